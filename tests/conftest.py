"""Shared fixtures: a Lambda context, emulated AWS (moto) with the tables/stream/queues of docs/internals.md.

Other areas may add fixtures here (small, additive edits).
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "tests" / "events"

TABLE_ENV = {
    "STATE_TABLE": "test-state",
    "ANOMALIES_TABLE": "test-anomalies",
    "CONFIG_TABLE": "test-config",
    "INCIDENTS_TABLE": "test-incidents",
    "AUDIT_TABLE": "test-audit",
    "BLOCKLIST_TABLE": "test-blocklist",
    "IDEMPOTENCY_TABLE": "test-idempotency",
}


@dataclass
class LambdaContext:
    function_name: str = "anomaly-guardian-test"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:anomaly-guardian-test"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"
    log_group_name: str = "/aws/lambda/anomaly-guardian-test"
    log_stream_name: str = "2026/01/01/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()


def load_handler(name: str):
    """Import functions/<name>/app.py as its own module (every function has an app.py)."""
    path = ROOT / "functions" / name / "app.py"
    module_name = f"functions_{name}_app"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def handler_module():
    """`handler_module("ingest")` imports functions/ingest/app.py afresh (module-level objects re-created)."""
    return load_handler


@pytest.fixture
def event_fixture():
    """`event_fixture("apigw_post_event.json")`: a fresh copy of a tests/events/ fixture."""
    import json

    return lambda name: json.loads((EVENTS / name).read_text())


@pytest.fixture
def aws_env(monkeypatch):
    """Fake credentials, one region, the table names, Powertools quiet; no real endpoint can be reached."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "ENVIRONMENT": "test",
        "POWERTOOLS_SERVICE_NAME": "anomaly-guardian",
        "POWERTOOLS_METRICS_NAMESPACE": "AnomalyGuardian",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_DEV": "false",
        "EVENTS_STREAM_NAME": "test-events",
        **TABLE_ENV,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    from anomaly_guardian.adapters.dynamodb import reset_clients

    reset_clients()
    yield
    reset_clients()


@pytest.fixture
def aws(aws_env):
    from moto import mock_aws

    with mock_aws():
        yield


@pytest.fixture
def tables(aws):
    """Every DynamoDB table of docs/internals.md, created with the keys and indexes the template uses."""
    from anomaly_guardian.adapters.dynamodb import client, create_tables

    return create_tables(client("dynamodb"), TABLE_ENV)


@pytest.fixture
def events_stream(aws):
    """The Kinesis stream (2 shards) named by EVENTS_STREAM_NAME."""
    import os

    from anomaly_guardian.adapters.dynamodb import client

    kinesis = client("kinesis")
    name = os.environ["EVENTS_STREAM_NAME"]
    kinesis.create_stream(StreamName=name, ShardCount=2)
    return name


@pytest.fixture
def detector_dlq(aws, monkeypatch):
    """The SQS queue the detector keeps poison records in (DETECTOR_DLQ_URL)."""
    from anomaly_guardian.adapters.dynamodb import client

    url = client("sqs").create_queue(QueueName="test-detector-dlq")["QueueUrl"]
    monkeypatch.setenv("DETECTOR_DLQ_URL", url)
    return url


@pytest.fixture(autouse=True, scope="session")
def _api_wiring():
    """What functions/api/app.py does at cold start, for tests that use the routers' services without
    loading the handler: the API's services (report ports included) are built by `wiring` on first use."""
    from anomaly_guardian import wiring
    from anomaly_guardian.api import deps

    deps.configure(wiring.api_services)
    yield
