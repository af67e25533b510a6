"""Cold start (issue 16): the detector and ingest handler modules import only what their path needs.

Given a fresh interpreter with each function's environment, When its app.py is imported, Then neither the
X-Ray SDK nor boto3/botocore's client machinery nor NumPy (no model configured) is loaded; the AWS clients
are wired but built on first use, and `warm_clients` builds them during init under provisioned
concurrency or SnapStart. The budget itself (<= 0.5 s CPU) is measured by `make bench`, not asserted here
(the machine is shared).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]

ENV = {
    "AWS_LAMBDA_FUNCTION_NAME": "cold-start",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "STATE_TABLE": "s",
    "ANOMALIES_TABLE": "a",
    "IDEMPOTENCY_TABLE": "i",
    "CONFIG_TABLE": "c",
    "BLOCKLIST_TABLE": "b",
    "AUDIT_TABLE": "au",
    "EVENTS_STREAM_NAME": "e",
    "DETECTOR_DLQ_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
}
HEAVY = ("aws_xray_sdk", "boto3", "botocore.client", "botocore.session", "numpy")


def _imported_after_loading(function: str, extra_env: dict[str, str] | None = None) -> dict:
    code = (
        "import importlib.util as u, json, sys\n"
        f"s = u.spec_from_file_location('app', {str(ROOT / 'functions' / function / 'app.py')!r})\n"
        "m = u.module_from_spec(s); s.loader.exec_module(m)\n"
        f"heavy = [h for h in {HEAVY!r} if h in sys.modules]\n"
        "from anomaly_guardian.adapters import dynamodb\n"
        "print(json.dumps({'heavy': heavy, 'built': sum(c._client is not None for c in dynamodb._LAZY),"
        " 'wired': len(dynamodb._LAZY)}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ML_", "MODEL_"))}
    env |= ENV | (extra_env or {})
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("function", ["detector", "ingest"])
def test_given_a_fresh_interpreter_when_the_handler_module_is_imported_then_no_tracing_sdk_boto3_or_numpy(function):
    got = _imported_after_loading(function)
    assert got["heavy"] == []
    assert got["built"] == 0  # clients wired at init (ingest) or by the adapters, built on the first AWS call


@pytest.mark.parametrize("function", ["detector", "ingest"])
@pytest.mark.parametrize("init_type", ["provisioned-concurrency", "snap-start"])
def test_given_init_ahead_of_traffic_when_the_module_is_imported_then_its_clients_are_built(function, init_type):
    got = _imported_after_loading(function, {"AWS_LAMBDA_INITIALIZATION_TYPE": init_type})
    assert "boto3" in got["heavy"] and got["built"] == got["wired"] >= 2


def test_given_a_lazy_client_when_first_used_then_built_once_and_calls_reach_aws(monkeypatch):
    from anomaly_guardian.adapters import dynamodb

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    dynamodb.reset_clients()
    ddb = dynamodb.client("dynamodb")
    assert ddb._client is None and dynamodb.warm_clients() == 0  # on-demand init: left lazy
    with mock_aws():
        ddb.create_table(
            TableName="t",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        )
        built = ddb._client
        assert built is not None and ddb.list_tables()["TableNames"] == ["t"] and ddb._client is built
        assert ddb.meta.region_name == "us-east-1" and dynamodb.client("dynamodb") is ddb
    dynamodb.reset_clients()


def test_given_every_function_and_the_layer_when_read_then_no_tracing_sdk_is_used_or_shipped():
    # The tracing decision (docs/evaluation.md, "Cold start and tracing"): active tracing, no X-Ray SDK.
    handlers = sorted((ROOT / "functions").glob("*/app.py"))
    assert len(handlers) >= 14
    for app in handlers:
        text = app.read_text()
        assert "Tracer" not in text and "aws_xray_sdk" not in text, app
    pins = (ROOT / "layers/core/requirements.txt").read_text()
    assert "aws-xray-sdk" not in pins and "[tracer]" not in (ROOT / "layers/core/requirements.in").read_text()
    assert "Tracing: Active" in (ROOT / "sam/template.yaml").read_text()


def test_given_threads_racing_on_first_use_when_a_lazy_client_is_built_then_once(monkeypatch):
    import time
    from concurrent.futures import ThreadPoolExecutor

    from anomaly_guardian.adapters import dynamodb

    built = []

    def slow_build(*args, **_kw):  # building a real client takes ~0.1 s: a wide window for a race
        time.sleep(0.02)
        built.append(args)
        return object()

    monkeypatch.setattr(dynamodb, "boto3_client", slow_build)
    lazy = dynamodb.LazyClient("dynamodb", None, {})
    with ThreadPoolExecutor(16) as pool:
        clients = set(pool.map(lambda _: id(lazy.materialise()), range(64)))
    assert len(built) == 1 and len(clients) == 1
    dynamodb.reset_clients()
