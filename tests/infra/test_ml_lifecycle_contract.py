"""The model lifecycle's static contracts: one pipeline name (Terraform's contract value, the template's
retrain rule, ml/pipeline.py, `make ml-pipeline` / ml.yml, the notebook), the promote rule on the
project's package group, and the ML job image (Dockerfile pins = the tested pins, ECR + contract)."""

from __future__ import annotations

import json
import re
import tomllib

import iac_rules
from infra_tools import ROOT

ENVS = ("dev", "staging", "prod")


def _tf_locals() -> dict[str, str]:
    text = (ROOT / "terraform/modules/platform/main.tf").read_text()
    blocks = "\n".join(re.findall(r"^locals \{(.*?)^\}", text, re.S | re.M))
    return dict(re.findall(r'^\s*(\w+)\s*=\s*"([^"]*)"', blocks, re.M))


def _terraform_value(expr: str, env: str, locals_: dict[str, str]) -> str:
    """Evaluate the interpolations a local uses (${local.x}, ${var.environment})."""
    out = expr
    for _ in range(5):
        out = re.sub(r"\$\{local\.(\w+)\}", lambda m: locals_[m.group(1)], out)
        out = out.replace("${var.environment}", env)
    assert "${" not in out, out
    return out


def test_the_pipeline_name_has_one_source_terraform_and_every_reader_takes_it_from_there():
    import sys

    sys.path.insert(0, str(ROOT))
    from ml.pipeline import SSM_NAMES, MlSettings, default_pipeline_name

    # Terraform publishes it ...
    main = (ROOT / "terraform/modules/platform/main.tf").read_text()
    assert re.search(r'"ml/pipeline-name"\s*=\s*local\.pipeline_name', main)
    locals_ = _tf_locals()
    for env in ENVS:
        assert _terraform_value(locals_["pipeline_name"], env, locals_) == default_pipeline_name(env)

    # ... the stack reads it (parameter from SSM, each env its own path) and nothing spells a name ...
    template = iac_rules.load_template()
    param = template["Parameters"]["RetrainPipelineName"]
    assert param["Type"] == "AWS::SSM::Parameter::Value<String>"
    assert param["Default"] == "/anomaly-guardian/dev/ml/pipeline-name"
    config = tomllib.loads((ROOT / "sam/samconfig.toml").read_text())
    for env in ENVS:
        overrides = config[env]["deploy"]["parameters"]["parameter_overrides"]
        assert f"RetrainPipelineName=/anomaly-guardian/{env}/ml/pipeline-name" in overrides
    rule = template["Resources"]["RetrainOnDriftRule"]["Properties"]
    (target,) = rule["Targets"]
    assert target["Arn"]["Fn::Sub"].endswith(":pipeline/${RetrainPipelineName}")
    text = (ROOT / "sam/template.yaml").read_text()
    assert not re.search(r"anomaly-guardian-(\$\{Environment\}|dev|staging|prod)?-?retrain(?!-on-drift)", text)

    # ... the factory reads it from the same key (and defaults to the same value) ...
    assert SSM_NAMES["pipeline_name"] == "ml/pipeline-name"
    values = {f"/anomaly-guardian/prod/{v}": f"value-{k}" for k, v in SSM_NAMES.items()}
    settings = MlSettings.from_ssm("prod", values.get, "us-east-1")
    assert settings.pipeline_name == "value-pipeline_name"
    del values["/anomaly-guardian/prod/ml/pipeline-name"]
    assert MlSettings.from_ssm("prod", values.get, "us-east-1").pipeline_name == default_pipeline_name("prod")
    factory = (ROOT / "ml/pipeline.py").read_text()
    assert "name = pipeline_name or settings.pipeline_name" in factory

    # ... and `make ml-pipeline`, the workflow and the notebook never pass a name of their own.
    assert "ml/upsert.py --env $(ENV)" in (ROOT / "mk/ml.mk").read_text()
    upsert = (ROOT / "ml/upsert.py").read_text()
    assert "get_pipeline(" in upsert and "pipeline_name" not in upsert
    workflow = (ROOT / ".github/workflows/ml.yml").read_text()
    assert 'make ml-pipeline ENV="$TARGET_ENV"' in workflow and "pipeline_name" not in workflow
    notebook = json.loads((ROOT / "ml/notebooks/retrain.ipynb").read_text())
    code = "\n".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code")
    assert "get_pipeline(" in code and "pipeline_name" not in code and "retrain-" not in code


def test_the_promote_rule_listens_on_the_default_bus_for_approvals_in_the_projects_group():
    template = iac_rules.load_template()
    fn = template["Resources"]["ModelPromoteFunction"]["Properties"]
    event = fn["Events"]["ModelApproved"]
    assert event["Type"] == "EventBridgeRule" and "EventBusName" not in event["Properties"]
    pattern = event["Properties"]["Pattern"]
    assert pattern["source"] == ["aws.sagemaker"]
    assert pattern["detail-type"] == ["SageMaker Model Package State Change"]
    assert pattern["detail"] == {
        "ModelPackageGroupName": [{"Ref": "ModelPackageGroupName"}],
        "ModelApprovalStatus": ["Approved"],
    }
    param = template["Parameters"]["ModelPackageGroupName"]
    assert param["Default"] == "/anomaly-guardian/dev/ml/model-package-group"
    # Least privilege: writes only under MODEL_KEY, reads only pipeline artifacts and MODEL_KEY*.
    statements = {s["Sid"]: s for p in fn["Policies"] for s in p.get("Statement", [])}
    assert statements["WriteLiveModel"]["Action"] == ["s3:PutObject"]
    assert statements["WriteLiveModel"]["Resource"]["Fn::Sub"].endswith("/${ModelKey}*")
    assert statements["DescribeApprovedPackage"]["Action"] == ["sagemaker:DescribeModelPackage"]
    assert all("*" not in a for s in statements.values() for a in s["Action"])


def test_drift_monitor_requests_retraining_through_the_bus_not_by_starting_the_pipeline():
    template = iac_rules.load_template()
    fn = template["Resources"]["DriftMonitorFunction"]["Properties"]
    actions = {a for p in fn["Policies"] for s in p.get("Statement", []) for a in s["Action"]}
    assert "events:PutEvents" in actions and "sagemaker:StartPipelineExecution" not in actions
    rule = template["Resources"]["RetrainOnDriftRule"]["Properties"]
    assert rule["EventPattern"]["source"] == ["anomaly-guardian.drift"]
    assert set(rule["EventPattern"]["detail-type"]) == {"ModelDriftDetected", "ModelRetrainRequested"}
    from anomaly_guardian.ml.drift import DRIFT_DETECTED, RETRAIN_REQUESTED, RETRAIN_SOURCE

    assert rule["EventPattern"]["source"] == [RETRAIN_SOURCE]
    assert {DRIFT_DETECTED, RETRAIN_REQUESTED} == set(rule["EventPattern"]["detail-type"])


def test_the_job_image_is_built_from_the_tested_pins_pushed_to_terraforms_repository_and_named_in_the_contract():
    # The Dockerfile installs exactly ml/container/requirements.txt (whose pins tests/unit/ml/test_container.py
    # holds equal to requirements/dev.in, the pins the tests run with) on Python 3.11.
    dockerfile = (ROOT / "ml/container/Dockerfile").read_text()
    assert re.search(r"^FROM \S+python:3\.11", dockerfile, re.M)
    assert "COPY requirements.txt /tmp/requirements.txt" in dockerfile
    assert "pip install -r /tmp/requirements.txt" in dockerfile
    assert not re.search(r"pip install(?! -r)", dockerfile)  # nothing unpinned besides the file
    # Terraform: an immutable, scanned, KMS-encrypted repository; the image parameter it does not reset.
    ml_tf = (ROOT / "terraform/modules/platform/ml.tf").read_text()
    repo = re.search(r'resource "aws_ecr_repository" "ml_jobs" \{(.*?)\n\}', ml_tf, re.S).group(1)
    assert 'image_tag_mutability = "IMMUTABLE"' in repo and "scan_on_push = true" in repo
    assert 'encryption_type = "KMS"' in repo and "kms_key         = module.kms.app_key_arn" in repo
    param = re.search(r'resource "aws_ssm_parameter" "job_image" \{(.*?)\n\}', ml_tf, re.S).group(1)
    assert '"${local.prefix}/ml/sklearn-image-uri"' in param and "ignore_changes = [value]" in param
    assert "aws_sagemaker_prebuilt_ecr_image" not in ml_tf  # the image the jobs cannot run on is gone
    main = (ROOT / "terraform/modules/platform/main.tf").read_text()
    assert re.search(r'"ml/job-image-repository"\s*=\s*aws_ecr_repository\.ml_jobs\.repository_url', main)
    assert "resources = [aws_ecr_repository.ml_jobs.arn]" in main  # SageMaker pulls this repository only
    # make ml-image and the workflow's image job, which the pipeline job waits for.
    mk = (ROOT / "mk/ml.mk").read_text()
    assert re.search(r"^ml-image: install", mk, re.M) and "ml/image.py --env $(ENV)" in mk
    import yaml

    workflow = yaml.safe_load((ROOT / ".github/workflows/ml.yml").read_text())
    image_job = workflow["jobs"]["image"]
    assert any("make ml-image" in str(step.get("run", "")) for step in image_job["steps"])
    assert workflow["jobs"]["pipeline"]["needs"] == "image"
    bootstrap = (ROOT / "terraform/bootstrap/main.tf").read_text()
    assert "ecr:PutImage" in bootstrap and "ml/sklearn-image-uri" in bootstrap
