"""sam/template.yaml: security properties and the seed's operational settings, read from the parsed YAML."""

from __future__ import annotations

import re

import iac_rules
from infra_tools import ROOT

INTERNAL_TABLES = {
    "StateTable": {"keys": ["pk"], "ttl": "ttl"},
    "AnomaliesTable": {"keys": ["pk", "sk"], "ttl": "ttl"},
    "ConfigTable": {"keys": ["pk", "sk"], "ttl": "ttl"},  # suppressions expire
    "IncidentsTable": {"keys": ["pk", "sk"], "ttl": "ttl"},
    "AuditTable": {"keys": ["pk", "sk"], "ttl": "ttl"},
    "BlockListTable": {"keys": ["pk", "sk"], "ttl": "ttl"},
    "IdempotencyTable": {"keys": ["id"], "ttl": "expiration"},
}


def test_given_the_template_when_checked_then_no_security_rule_is_broken(template):
    assert iac_rules.template_violations(template) == []


def test_given_globals_when_read_then_runtime_tracing_and_powertools_settings_are_set(template):
    glob = template["Globals"]["Function"]
    assert glob["Runtime"] == "python3.13" and glob["Architectures"] == ["arm64"] and glob["Tracing"] == "Active"
    env = glob["Environment"]["Variables"]
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "AnomalyGuardian"
    assert env["LOG_LEVEL"] == {"Ref": "LogLevel"}
    services = {
        n: f["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] for n, f in iac_rules.functions(template).items()
    }
    assert len(set(services.values())) == len(services), "each function reports under its own service name"


def test_given_the_tables_when_compared_with_internals_then_names_and_keys_match(template):
    tables = iac_rules.resources_of(template, "AWS::DynamoDB::Table")
    assert set(tables) == set(INTERNAL_TABLES)
    for name, spec in INTERNAL_TABLES.items():
        props = tables[name]["Properties"]
        assert [k["AttributeName"] for k in props["KeySchema"]] == spec["keys"], name
        ttl = props.get("TimeToLiveSpecification")
        assert (ttl["AttributeName"] if ttl else None) == spec["ttl"], name
    gsis = {
        g["IndexName"]: [k["AttributeName"] for k in g["KeySchema"]]
        for g in tables["AnomaliesTable"]["Properties"]["GlobalSecondaryIndexes"]
    }
    assert gsis == {"gsi1": ["gsi1pk", "gsi1sk"], "gsi2": ["gsi2pk", "gsi2sk"], "gsi3": ["gsi3pk", "gsi3sk"]}


def test_given_the_detector_when_read_then_the_kinesis_mapping_reports_failures_and_keeps_records(template):
    stream = iac_rules.functions(template)["DetectorFunction"]["Events"]["Stream"]
    assert stream["Type"] == "Kinesis"
    props = stream["Properties"]
    assert props["BisectBatchOnFunctionError"] is True
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["DetectorFailureQueue", "Arn"]}
    assert 1 <= props["BatchSize"] <= 10000


def test_given_sqs_consumers_when_read_then_each_queue_has_a_dlq_and_partial_batch_responses(template):
    queues = iac_rules.resources_of(template, "AWS::SQS::Queue")
    for fn_name, fn in iac_rules.functions(template).items():
        for event in (fn.get("Events") or {}).values():
            if event["Type"] != "SQS":
                continue
            queue = event["Properties"]["Queue"]["Fn::GetAtt"][0]
            assert "RedrivePolicy" in queues[queue]["Properties"], f"{queue} consumed by {fn_name} has no DLQ"
            assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_given_the_api_when_read_then_ingestion_uses_iam_and_everything_else_the_tenant_authorizer(template):
    fns = iac_rules.functions(template)
    post_events = fns["IngestFunction"]["Events"]["PostEvents"]["Properties"]
    assert post_events["Auth"]["Authorizer"] == "AWS_IAM"
    api = template["Resources"]["Api"]["Properties"]
    assert api["Auth"]["DefaultAuthorizer"] == "TenantAuthorizer"
    assert api["Auth"]["Authorizers"]["TenantAuthorizer"]["FunctionArn"] == {
        "Fn::GetAtt": ["AuthorizerFunction", "Arn"]
    }
    for name, event in fns["ApiFunction"]["Events"].items():
        if event["Properties"]["Path"].startswith("/alert-actions/"):
            # the usage alerts' signed one-click links: the signed, expiring token is the identity
            assert event["Properties"]["Auth"] == {"Authorizer": "NONE"}, name
            continue
        assert "Auth" not in event["Properties"], "API routes inherit the tenant authorizer"
    waf = template["Resources"]["ApiWafAssociation"]["Properties"]
    assert waf["WebACLArn"] == {"Ref": "WebAclArn"}


def test_given_the_state_machines_when_read_then_every_substitution_in_the_asl_is_provided(template):
    machines = iac_rules.resources_of(template, "AWS::Serverless::StateMachine")
    assert "RemediationStateMachine" in machines
    for name, res in machines.items():
        props = res["Properties"]
        asl = (ROOT / "sam" / props["DefinitionUri"]).resolve()
        assert asl.is_file(), f"{name}: {asl} missing"
        needed = set(re.findall(r"\$\{(\w+)\}", asl.read_text()))
        assert needed == set(props.get("DefinitionSubstitutions") or {}), name
        assert "arn:aws:" not in re.sub(r"arn:aws:states:::[\w:.-]+", "", asl.read_text()), "no hard-coded ARNs"


def _alarm(template, name):
    return template["Resources"][name]["Properties"]


def test_given_the_alarms_when_read_then_the_seed_thresholds_are_kept(template):
    crit = _alarm(template, "AnomalyScoreCriticalAlarm")
    assert (crit["Threshold"], crit["EvaluationPeriods"], crit["DatapointsToAlarm"]) == (0.9, 3, 3)
    warn = _alarm(template, "AnomalyScoreWarningAlarm")
    assert (warn["Threshold"], warn["EvaluationPeriods"], warn["DatapointsToAlarm"]) == (0.7, 5, 5)
    errors = _alarm(template, "LambdaErrorRateAlarm")
    assert errors["Threshold"] == 5
    assert any("errors / invocations" in m.get("Expression", "") for m in errors["Metrics"])
    latency = _alarm(template, "SageMakerLatencyAlarm")
    assert latency["MetricName"] == "ModelLatency" and latency["Threshold"] == 5_000_000  # microseconds = 5 s
    assert _alarm(template, "KinesisUtilisationAlarm")["Threshold"] == 80
    assert "CorrelationFailureAlarm" in template["Resources"]
    for name, res in iac_rules.resources_of(template, "AWS::CloudWatch::Alarm").items():
        assert res["Properties"]["AlarmActions"] == [{"Ref": "AlertsTopic"}], name


def test_given_the_dashboard_when_read_then_it_has_the_three_seed_sections(template):
    body = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][0]
    for section in ("Anomaly Detection Overview", "System Health", "Security Actions"):
        assert f"## {section}" in body


def test_given_the_layer_when_read_then_it_is_built_by_the_makefile_for_arm64(template):
    layer = template["Resources"]["CoreLayer"]
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    makefile = (ROOT / "layers/core/Makefile").read_text()
    for opt in ("--platform manylinux2014_aarch64", "--python-version 3.13", "--only-binary=:all:"):
        assert opt in makefile
    pins = (ROOT / "layers/core/requirements.txt").read_text()
    names = {line.split("==")[0] for line in pins.splitlines() if "==" in line and not line.startswith("#")}
    assert {"aws-lambda-powertools", "pydantic", "numpy"} <= names
    assert not names & {"scikit-learn", "boto3", "botocore"}, "training libs and the runtime's boto3 stay out"


def test_given_the_sam_expansion_when_roles_are_read_then_no_generated_policy_allows_wildcards_on_everything():
    import json

    from infra_tools import run, tool

    result = run([str(tool("sam/bin/python")), "tests/infra/sam_expand.py", "sam/template.yaml"])
    assert result.returncode == 0, result.stderr[-2000:]
    roles = json.loads(result.stdout)
    function_roles = {n: r for n, r in roles.items() if n.endswith("FunctionRole")}
    assert len(function_roles) == len(iac_rules.functions(iac_rules.load_template()))
    for name, role in roles.items():
        for st in role["statements"]:
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            resources = st.get("Resource", [])
            resources = resources if isinstance(resources, list) else [resources]
            wildcard = [a for a in actions if a == "*" or a.endswith(":*")]
            assert not (wildcard and "*" in resources), f"{name}: {wildcard} on '*'"
    for name, role in function_roles.items():
        # the KMS key policy lets tagged project roles use the application key directly
        assert role["tags"].get("project") == "anomaly-guardian", name
        assert not [m for m in role["managed"] if m.endswith(("FullAccess", "AdministratorAccess"))], name


def test_given_the_functions_when_read_then_each_logs_to_a_declared_group_with_retention_and_kms(template):
    groups = iac_rules.resources_of(template, "AWS::Logs::LogGroup")
    for name, res in template["Resources"].items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        ref = (res["Properties"].get("LoggingConfig") or {}).get("LogGroup")
        assert isinstance(ref, dict) and "Ref" in ref, f"{name}: LoggingConfig.LogGroup must reference a declared group"
        group = template["Resources"][ref["Ref"]]
        assert ref["Ref"] in groups and group.get("Condition") == res.get("Condition"), name
        props = group["Properties"]
        assert props["RetentionInDays"] == {"Ref": "LogRetentionDays"} and props["KmsKeyId"] == {"Ref": "AppKeyArn"}
        assert props["LogGroupName"]["Fn::Sub"].startswith("/aws/lambda/anomaly-guardian-${Environment}-")


def test_given_the_app_key_when_read_then_cloudwatch_logs_may_use_it_for_this_accounts_log_groups():
    from iac_rules import TERRAFORM, load_hcl_dir, tf_data

    policy = tf_data(load_hcl_dir(TERRAFORM / "modules/kms"), "aws_iam_policy_document")["app"]
    statements = policy["statement"] if isinstance(policy["statement"], list) else [policy["statement"]]
    logs = [s for s in statements if s.get("sid") == "CloudWatchLogsEncryption"]
    assert logs, "the app key policy must let CloudWatch Logs encrypt the Lambda log groups"
    principal = logs[0]["principals"][0] if isinstance(logs[0]["principals"], list) else logs[0]["principals"]
    assert principal["identifiers"] == ["logs.${local.region}.amazonaws.com"]
    assert "kms:GenerateDataKey*" in logs[0]["actions"]


def test_given_the_gateway_responses_when_read_then_every_error_api_gateway_gives_has_the_contract_shape(template):
    # issue #10: 401/403 bodies were {"message": ...}; every GatewayResponse must render {status, code, message},
    # and the local gateway (local/apigw.py) must answer with the same status and code.
    import json

    from anomaly_guardian.local.apigw import GATEWAY_RESPONSES

    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::ApiGateway::GatewayResponse"
    }
    assert {"UNAUTHORIZED", "ACCESS_DENIED", "DEFAULT_4XX", "DEFAULT_5XX", "THROTTLED"} <= set(responses)
    for kind, props in responses.items():
        rendered = re.sub(r"\$context\.[\w.]+", '"x"', props["ResponseTemplates"]["application/json"])
        body = json.loads(rendered)
        assert set(body) == {"status", "code", "message"} and body["status"] == "error", kind
        if kind in GATEWAY_RESPONSES and "StatusCode" in props:
            assert (int(props["StatusCode"]), body["code"]) == GATEWAY_RESPONSES[kind], kind
