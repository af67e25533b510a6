"""`guardian opensearch sync --env ENV` (what `make deploy` runs): the endpoint comes from the SSM contract
and the alerts topic, the publishing role and the writer roles from the SAM stack's outputs (emulated
SSM and CloudFormation), then the sync runs against the domain (the local fake, SigV4)."""

from __future__ import annotations

import json

import pytest

from anomaly_guardian.adapters.dynamodb import client
from anomaly_guardian.cli import main
from anomaly_guardian.local.opensearch import FakeOpenSearch
from anomaly_guardian.search.declared import managed

OUTPUTS = {
    "AlertsTopicArn": "arn:aws:sns:us-east-1:123456789012:anomaly-guardian-dev-alerts",
    "OpenSearchAlertsRoleArn": "arn:aws:iam::123456789012:role/anomaly-guardian-dev-os-alerts",
    "SearchIndexerRoleArn": "arn:aws:iam::123456789012:role/anomaly-guardian-dev-search-indexer",
    "UsageIngestRoleArn": "arn:aws:iam::123456789012:role/anomaly-guardian-dev-usage-ingest",
}


@pytest.fixture
def deployment(aws):
    fake = FakeOpenSearch(credentials={"FOOBARKEY": "FOOBARSECRET", "testing": "testing"})
    fake.serve("127.0.0.1", 0)
    client("ssm").put_parameter(Name="/anomaly-guardian/dev/opensearch/endpoint", Value=fake.url, Type="String")
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {k: {"Value": v} for k, v in OUTPUTS.items()},
    }
    client("cloudformation").create_stack(StackName="anomaly-guardian-dev", TemplateBody=json.dumps(template))
    yield fake
    fake.shutdown()


def test_sync_for_a_deployment_reads_the_contract_and_the_stack_outputs(deployment, tmp_path, capsys):
    extra = tmp_path / "opensearch-dev.json"
    extra.write_text(
        json.dumps(
            {
                "analyst_backend_roles": ["arn:aws:iam::123456789012:role/analysts"],
                "tenant_backend_roles": {"acme": ["arn:aws:iam::123456789012:role/acme"]},
            }
        )
    )
    assert main(["opensearch", "sync", "--env", "dev", "--region", "us-east-1", "--context", str(extra)]) == 0
    plugins = deployment.state["plugins"]
    assert plugins.configs[managed("sns-alerts")]["config"]["sns"] == {
        "topic_arn": OUTPUTS["AlertsTopicArn"],
        "role_arn": OUTPUTS["OpenSearchAlertsRoleArn"],
    }
    assert plugins.mappings[managed("indexer")]["backend_roles"] == sorted(
        [OUTPUTS["SearchIndexerRoleArn"], OUTPUTS["UsageIngestRoleArn"]]
    )
    assert plugins.mappings[managed("tenant-acme")]["backend_roles"] == ["arn:aws:iam::123456789012:role/acme"]
    assert "skipped" in capsys.readouterr().out  # no trail documents yet: detectors wait, reported
    # --check: everything is in place except what waits for the trail's first documents
    check = ["opensearch", "sync", "--env", "dev", "--region", "us-east-1", "--context", str(extra), "--check"]
    assert main(check) == 1
    out = capsys.readouterr().out.splitlines()
    pending = [line for line in out if line.startswith(("create", "update", "delete"))]
    assert len(pending) == 6 and all(" detector " in p or " monitor " in p for p in pending)


def test_a_missing_deployment_is_reported(aws, capsys):
    assert main(["opensearch", "sync", "--env", "staging", "--region", "us-east-1"]) == 1
    assert "cannot read deployment staging" in capsys.readouterr().err
