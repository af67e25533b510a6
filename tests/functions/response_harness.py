"""Fixtures for the response tests: emulated AWS (moto) with every resource the response side uses, and
a Step Functions harness that runs statemachines/remediation.asl.json with moto's ASL interpreter while
its Lambda tasks run the real `functions/actions/app.py` handler in-process.

How tasks are routed: moto executes the state machine (Choice, Map, Retry with backoff, Catch,
.waitForTaskToken) and invokes each Lambda task through its Lambda API. Without Docker moto's Lambda
backend only echoes the payload, so `LambdaSimpleBackend.invoke` is replaced by a router that calls
the real handler with the task's payload and answers like Lambda does: the JSON result, or for an
exception `X-Amz-Function-Error: Unhandled` with `{"errorType": <class name>, "errorMessage": ...}`,
which moto (like Step Functions) turns into the error name Retry/Catch match on.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _root_conftest():
    """tests/conftest.py by path: the bare name `conftest` is ambiguous once tests/infra's is loaded too."""
    spec = importlib.util.spec_from_file_location("guardian_root_conftest", ROOT / "tests" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["guardian_root_conftest"] = module  # before exec: its dataclasses look themselves up
    spec.loader.exec_module(module)
    return module


_conftest = sys.modules.get("guardian_root_conftest") or _root_conftest()
TABLE_ENV, LambdaContext, load_handler, EVENTS = (
    _conftest.TABLE_ENV,
    _conftest.LambdaContext,
    _conftest.load_handler,
    _conftest.EVENTS,
)

SFN_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
ACTIONS_FUNCTION = "anomaly-guardian-actions"
ASL = ROOT / "statemachines" / "remediation.asl.json"
TENANT = "acme"
OTHER = "globex"
IP = "93.184.216.34"  # public (documentation ranges are not blockable: not global)


def make_anomaly(
    kind: str = "velocity",
    *,
    tenant: str = TENANT,
    user: str = "u_4f1c2a9be07d3c5a18e2b6d0",
    score: float = 0.82,
    severity: str = "HIGH",
    at_ms: int | None = None,
    event: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    from anomaly_guardian.ids import new_ulid
    from anomaly_guardian.models.anomaly import utc_now_iso

    aid = new_ulid(at_ms)
    detected = utc_now_iso()
    if at_ms is not None:
        from datetime import UTC, datetime

        detected = datetime.fromtimestamp(at_ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    original = {"eventId": f"evt-{aid[-8:]}", "timestamp": detected, "eventType": "transaction"} | (event or {})
    return {
        "anomalyId": aid,
        "tenantId": tenant,
        "severity": severity,
        "anomalyScore": score,
        "detectedAt": detected,
        "userId": user,
        "anomalyType": kind,
        "description": f"{kind} anomaly for {user}",
        "originalEvent": original,
        "actionsPerformed": [],
        "explanation": [],
        "entities": {"user": user, "ip": "i_" + user[2:]},  # one IP per user unless a test shares one
    } | extra


class Resources:
    """Names/urls of what `response_aws` created; helpers to read what the actions did."""

    def __init__(self) -> None:
        from anomaly_guardian.adapters.dynamodb import client

        self.ddb = client("dynamodb")
        self.sqs = client("sqs")
        self.waf = client("wafv2")
        self.sns = client("sns")
        self.env: dict[str, str] = {}

    def waf_addresses(self) -> set[str]:
        resp = self.waf.get_ip_set(Name="guardian-blocked", Id=self.env["WAF_IP_SET_ID"], Scope="REGIONAL")
        return set(resp["IPSet"]["Addresses"])

    def items(self, table_env: str, tenant: str, prefix: str) -> list[dict[str, Any]]:
        from anomaly_guardian.adapters.dynamodb import from_item

        resp = self.ddb.query(
            TableName=TABLE_ENV[table_env],
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"T#{tenant}"}},
        )
        return [from_item(i) for i in resp["Items"] if i["sk"]["S"].startswith(prefix)]

    def drain(self, url: str, wait: int = 0, max_messages: int = 10) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            resp = self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait, MessageAttributeNames=["All"]
            )
            msgs = resp.get("Messages", [])
            if not msgs:
                return out
            for m in msgs:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                out.append(m)
            if len(out) >= max_messages:
                return out

    def alerts(self) -> list[dict[str, Any]]:
        """SNS messages delivered to the test subscriber queue (raw delivery with attributes)."""
        return [json.loads(m["Body"]) for m in self.drain(self.env["ALERTS_SUBSCRIBER_URL"])]

    def settings(self, tenant: str, **values: Any) -> None:
        from anomaly_guardian.adapters.config_repo import ConfigRepository

        ConfigRepository("test-config").put_settings(tenant, values)

    def store_anomaly(self, anomaly: dict[str, Any]) -> None:
        from anomaly_guardian.adapters.anomalies import AnomalyRepository

        AnomalyRepository("test-anomalies").put_many([anomaly])

    def stored_anomaly(self, tenant: str, anomaly_id: str) -> dict[str, Any]:
        from anomaly_guardian.adapters.anomalies import AnomalyRepository

        return AnomalyRepository("test-anomalies").get(tenant, anomaly_id)


def _create(res: Resources, monkeypatch: pytest.MonkeyPatch) -> Resources:
    from anomaly_guardian.adapters.dynamodb import client, create_tables

    create_tables(client("dynamodb"), TABLE_ENV)
    ip_set = res.waf.create_ip_set(
        Name="guardian-blocked", Scope="REGIONAL", IPAddressVersion="IPV4", Addresses=["198.51.100.99/32"]
    )["Summary"]
    topic = res.sns.create_topic(Name="guardian-alerts")["TopicArn"]
    urls = {
        name: res.sqs.create_queue(QueueName=name)["QueueUrl"]
        for name in ("guardian-response", "guardian-webhooks", "guardian-webhooks-dlq", "alerts-subscriber")
    }
    sub_arn = res.sqs.get_queue_attributes(QueueUrl=urls["alerts-subscriber"], AttributeNames=["QueueArn"])
    sub = res.sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=sub_arn["Attributes"]["QueueArn"],
        Attributes={"RawMessageDelivery": "true"},
    )
    # A pager subscription that only wants HIGH and CRITICAL (filter policy on the severity attribute).
    res.sns.set_subscription_attributes(
        SubscriptionArn=sub["SubscriptionArn"],
        AttributeName="FilterPolicy",
        AttributeValue=json.dumps({"severity": ["CRITICAL", "HIGH"]}),
    )
    client("events").create_event_bus(Name="guardian-bus")
    res.env = {
        "WAF_IP_SET_NAME": "guardian-blocked",
        "WAF_IP_SET_ID": ip_set["Id"],
        "WAF_SCOPE": "REGIONAL",
        "ALERTS_TOPIC_ARN": topic,
        "RESPONSE_QUEUE_URL": urls["guardian-response"],
        "WEBHOOK_QUEUE_URL": urls["guardian-webhooks"],
        "WEBHOOK_DLQ_URL": urls["guardian-webhooks-dlq"],
        "ALERTS_SUBSCRIBER_URL": urls["alerts-subscriber"],
        "EVENT_BUS_NAME": "guardian-bus",
    }
    for key, value in res.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("RESPONSE_DRY_RUN", raising=False)
    monkeypatch.delenv("GUARDIAN_WEBHOOK_ALLOW_LOOPBACK", raising=False)
    return res


@pytest.fixture
def response_aws(aws_env, monkeypatch):
    """Plain moto (no ASL execution): tables, WAF IP set, SNS topic + filtered subscriber, queues, bus."""
    from moto import mock_aws

    with mock_aws():
        yield _create(Resources(), monkeypatch)


class StateMachineHarness:
    def __init__(self, res: Resources, monkeypatch: pytest.MonkeyPatch) -> None:
        from anomaly_guardian.adapters.dynamodb import client

        self.res = res
        self.sfn = client("stepfunctions")
        self.invocations: list[dict[str, Any]] = []
        self.actions = load_handler("actions")
        self.context = LambdaContext(function_name=ACTIONS_FUNCTION)
        self._route(monkeypatch)
        iam = client("iam")
        role = iam.create_role(RoleName="guardian-sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        fn = client("lambda").create_function(
            FunctionName=ACTIONS_FUNCTION,
            Runtime="python3.13",
            Role=role,
            Handler="app.lambda_handler",
            Code={"ZipFile": b"routed in-process by the test harness"},
        )["FunctionArn"]
        definition = ASL.read_text().replace("${ActionsFunctionArn}", fn)
        assert "${" not in definition, "every DefinitionSubstitution must be provided"
        self.arn = self.sfn.create_state_machine(name="remediation", definition=definition, roleArn=role)[
            "stateMachineArn"
        ]
        monkeypatch.setenv("REMEDIATION_STATE_MACHINE_ARN", self.arn)

    def _route(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from moto.awslambda_simple.models import LambdaSimpleBackend

        harness = self

        def invoke(self, function_name, qualifier, body, headers, response_headers):
            assert function_name.endswith(ACTIONS_FUNCTION), function_name
            payload = json.loads(body) if body else {}
            harness.invocations.append(payload)
            try:
                result = harness.actions.lambda_handler(payload, harness.context)
            except Exception as exc:  # what the Lambda runtime reports for an unhandled exception
                response_headers["x-amz-function-error"] = "Unhandled"
                return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}).encode()
            return json.dumps(result).encode()

        monkeypatch.setattr(LambdaSimpleBackend, "invoke", invoke)

    def start(
        self, anomaly: dict[str, Any], incident_id: str | None = None, ip: str | None = IP, name: str = ""
    ) -> str:
        payload = {
            "tenantId": anomaly["tenantId"],
            "anomaly": anomaly,
            "incidentId": incident_id,
            "incidentSeverity": anomaly["severity"],
            "subjectIp": ip,
        }
        name = name or f"{anomaly['tenantId']}-{anomaly['anomalyId']}"
        return self.sfn.start_execution(stateMachineArn=self.arn, name=name, input=json.dumps(payload))["executionArn"]

    def wait(self, execution_arn: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            desc = self.sfn.describe_execution(executionArn=execution_arn)
            if desc["status"] != "RUNNING":
                return desc
            time.sleep(0.05)
        raise AssertionError(f"execution still running after {timeout}s: {self.history_types(execution_arn)}")

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 15.0) -> Any:
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError("condition not reached")

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        return self.sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]

    def history_types(self, execution_arn: str) -> list[str]:
        return [e["type"] for e in self.history(execution_arn)]

    def ops(self) -> list[str]:
        return [
            p.get("op", "?") + (f":{p['action']['type']}" if p.get("op") == "execute" else "") for p in self.invocations
        ]


@pytest.fixture
def sfn(aws_env, monkeypatch):
    """moto with ASL execution on, every response resource, and the task router."""
    from moto import mock_aws

    with mock_aws(config=SFN_CONFIG):
        res = _create(Resources(), monkeypatch)
        yield StateMachineHarness(res, monkeypatch)


def env(name: str) -> str:
    return os.environ[name]
