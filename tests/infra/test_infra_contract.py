"""Contracts across parts: Terraform's SSM contract <-> template parameters <-> samconfig, env vars in
docs/internals.md <-> template, API routes in the routers <-> API Gateway events, function folders."""

from __future__ import annotations

import re
import tomllib

import iac_rules
from iac_rules import TERRAFORM, load_hcl_dir, tf_modules
from infra_tools import ROOT

SSM_PREFIX = "/anomaly-guardian/dev/"


def _contract_keys() -> set[str]:
    doc = load_hcl_dir(TERRAFORM / "modules/platform")
    contract = tf_modules(doc)["contract"]
    # Plus parameters the platform creates itself under the prefix (ml/sklearn-image-uri: written by
    # `make ml-image`, so Terraform ignores later changes of its value).
    own = {
        str(r["name"]).removeprefix("${local.prefix}/")
        for r in iac_rules.tf_resources(doc, "aws_ssm_parameter").values()
        if str(r.get("name", "")).startswith("${local.prefix}/") and "each" not in str(r["name"])
    }
    return set(contract["values"]) | set(contract["list_values"]) | own


def _ssm_parameters(template) -> dict[str, str]:
    return {
        name: p["Default"][len(SSM_PREFIX) :]
        for name, p in template["Parameters"].items()
        if p["Type"].startswith("AWS::SSM::Parameter::Value")
    }


def test_given_the_template_when_it_reads_ssm_then_terraform_publishes_every_parameter(template):
    missing = set(_ssm_parameters(template).values()) - _contract_keys()
    assert not missing, f"template reads SSM parameters Terraform does not publish: {sorted(missing)}"


def test_given_samconfig_when_read_then_each_env_points_every_ssm_parameter_at_its_own_path(template):
    config = tomllib.loads((ROOT / "sam/samconfig.toml").read_text())
    params = _ssm_parameters(template)
    for env in ("dev", "staging", "prod"):
        overrides = dict(o.split("=", 1) for o in config[env]["deploy"]["parameters"]["parameter_overrides"])
        assert overrides["Environment"] == env
        for name, key in params.items():
            assert overrides.get(name) == f"/anomaly-guardian/{env}/{key}", f"{env}: {name}"
        assert config[env]["global"]["parameters"]["stack_name"] == f"anomaly-guardian-{env}"


# Always required in AWS, whatever their row says.
CORE_VARIABLES = {
    "ENVIRONMENT",
    "STATE_TABLE",
    "ANOMALIES_TABLE",
    "CONFIG_TABLE",
    "INCIDENTS_TABLE",
    "AUDIT_TABLE",
    "BLOCKLIST_TABLE",
    "IDEMPOTENCY_TABLE",
    "EVENTS_STREAM_NAME",
    "PSEUDONYM_KEY_PARAM",
    "TOKEN_SIGNING_KEY_PARAM",
    "ALERTS_TOPIC_ARN",
    "WEBHOOK_QUEUE_URL",
    "REMEDIATION_STATE_MACHINE_ARN",
    "EVENT_BUS_NAME",
    "WAF_IP_SET_NAME",
    "WAF_IP_SET_ID",
    "WAF_SCOPE",
    "MODEL_BUCKET",
    "MODEL_KEY",
    "SECRETS_KMS_KEY_ID",
}
# A row whose meaning names a default, says optional, or is local/test-only documents a tunable the code defaults.
OPTIONAL_ROW = re.compile(r"default|optional|local|tests only|instead", re.IGNORECASE)


def test_given_internals_env_table_when_compared_then_the_template_sets_every_required_variable(template):
    text = (ROOT / "docs/internals.md").read_text()
    table = text.split("## Environment variables")[1].split("\n## ")[0]
    required = set(CORE_VARIABLES)
    for row in table.splitlines():
        cells = row.split("|")
        if len(cells) < 4 or not cells[1].strip().startswith("`"):
            continue
        if not OPTIONAL_ROW.search(cells[2]):
            required |= set(re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[1]))
    required -= {"AWS_ENDPOINT_URL"}
    merged: set[str] = set()
    for fn in iac_rules.functions(template).values():
        merged |= set(fn["Environment"]["Variables"])
    missing = required - merged
    assert not missing, f"internals.md variables not set for the functions: {sorted(missing)}"


def test_given_the_api_routers_when_compared_then_api_gateway_routes_match(template):
    route = re.compile(r"@(?:router|app)\.(get|post|put|delete|patch)\(\s*\"([^\"]+)\"")
    sources = [*(ROOT / "layers/core/anomaly_guardian/api").rglob("*.py"), ROOT / "functions/api/app.py"]
    in_code = {
        (m.group(1), re.sub(r"<(\w+)>", r"{\1}", m.group(2))) for f in sources for m in route.finditer(f.read_text())
    }
    events = iac_rules.functions(template)["ApiFunction"]["Events"].values()
    in_template = {(e["Properties"]["Method"], e["Properties"]["Path"]) for e in events if e["Type"] == "Api"}
    assert in_code, "no routes found in the API routers"
    assert in_template == in_code


def test_given_every_function_when_built_then_its_folder_has_a_handler(template):
    for name, fn in iac_rules.functions(template).items():
        app = (ROOT / "sam" / fn["CodeUri"] / "app.py").resolve()
        assert app.is_file(), f"{name}: {app.relative_to(ROOT)} does not exist"
        assert "def lambda_handler" in app.read_text(), f"{name}: no lambda_handler in {app.relative_to(ROOT)}"


def test_given_the_ml_pipeline_when_it_reads_ssm_then_terraform_publishes_every_name():
    import ast

    tree = ast.parse((ROOT / "ml/pipeline.py").read_text())
    names = next(
        ast.literal_eval(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "SSM_NAMES" for t in node.targets)
    )
    missing = set(names.values()) - _contract_keys()
    assert not missing, f"ml/pipeline.py reads SSM parameters Terraform does not publish: {sorted(missing)}"
