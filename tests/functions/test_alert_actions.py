"""The one-click links of a usage alert through the real API handler on emulated DynamoDB: GET confirms
(no sign-in, nothing changes), POST applies (false positive: verdict + suppression; snooze: suppression
for N hours), both audited; altered, expired or foreign links change nothing."""

from __future__ import annotations

import copy
import json
import time

import pytest
from api_helpers import EVENTS

from anomaly_guardian.adapters.anomalies import AnomalyRepository
from anomaly_guardian.adapters.config_repo import ConfigRepository
from anomaly_guardian.adapters.dynamodb import client
from anomaly_guardian.auth.action_links import link_key, sign
from anomaly_guardian.detection.suppression import pattern_of, suppression_sk

LINK_KEY = "link-test-key"
ANOMALY = {
    "anomalyId": "01KAHX5Q3R8M9N2P4T6V8W0Y1Z",
    "tenantId": "platform",
    "severity": "HIGH",
    "anomalyScore": 0.82,
    "detectedAt": "2026-03-02T03:00:10.000Z",
    "userId": "arn:aws:iam::123456789012:user/deploy-bot",
    "anomalyType": "usage",
    "description": "ec2:RunInstances:g5: 8 calls in 5 min against about 0.0 expected",
    "originalEvent": {"eventId": "ct-1", "timestamp": "2026-03-02T03:00:05Z", "eventType": "cloudtrail"},
    "entities": {"api": "ec2:RunInstances:g5", "userId": "arn:aws:iam::123456789012:user/deploy-bot"},
    "detector": "usage",
}


@pytest.fixture
def api(tables, handler_module, monkeypatch):
    from anomaly_guardian.api import deps

    monkeypatch.setenv("GUARDIAN_ACTION_LINK_KEY", LINK_KEY)
    monkeypatch.setenv("GUARDIAN_PSEUDONYM_KEY", "test-pseudonym-key")
    deps.reset_services()
    AnomalyRepository("test-anomalies", token_key=b"k").put_many([ANOMALY])
    yield handler_module("api")
    deps.reset_services()


def call(api, ctx, method: str, token: str) -> tuple[int, str]:
    event = copy.deepcopy(json.loads((EVENTS / "apigw_get_anomaly.json").read_text()))
    event["requestContext"].pop("authorizer", None)  # no sign-in: the route has no authorizer
    event.update(
        resource="/alert-actions/{token}",
        path=f"/alert-actions/{token}",
        httpMethod=method,
        pathParameters={"token": token},
    )
    event["requestContext"].update(resourcePath="/alert-actions/{token}", httpMethod=method)
    resp = api.lambda_handler(event, ctx)
    headers = resp.get("headers") or {k: v[0] for k, v in (resp.get("multiValueHeaders") or {}).items()}
    assert headers["Content-Type"].startswith("text/html"), resp
    return resp["statusCode"], resp["body"]


def suppression(tenant: str = "platform") -> dict | None:
    pattern = pattern_of(ANOMALY)
    item = client("dynamodb").get_item(
        TableName=ConfigRepository("test-config").table,
        Key={"pk": {"S": f"T#{tenant}"}, "sk": {"S": suppression_sk(pattern)}},
    )
    return item.get("Item")


def token(op: str, hours: int | None = None, **kw) -> str:
    return sign(
        link_key(LINK_KEY.encode()),
        kw.pop("tenant", "platform"),
        kw.pop("anomaly", ANOMALY["anomalyId"]),
        op,
        hours,
        **kw,
    )


def test_get_confirms_without_changing_anything_and_post_snoozes(api, lambda_context):
    t = token("snooze", 4)
    status, page = call(api, lambda_context, "GET", t)
    assert status == 200 and "<form method=post>" in page and "snooze its pattern for 4 hours" in page
    assert suppression() is None  # a mail scanner following the link changes nothing
    status, page = call(api, lambda_context, "POST", t)
    assert status == 200 and "silenced until" in page
    item = suppression()
    assert abs(int(item["expiresAt"]["N"]) - (time.time() + 4 * 3600)) < 60
    assert item["createdBy"]["S"] == "alert-link"
    assert "feedback" not in AnomalyRepository("test-anomalies", token_key=b"k").get(
        "platform", ANOMALY["anomalyId"]
    )  # a snooze is no verdict
    assert call(api, lambda_context, "POST", t)[0] == 200  # clicking twice is harmless


def test_false_positive_link_records_the_verdict_and_suppresses(api, lambda_context):
    status, _ = call(api, lambda_context, "POST", token("false_positive"))
    assert status == 200
    stored = AnomalyRepository("test-anomalies", token_key=b"k").get("platform", ANOMALY["anomalyId"])
    assert stored["feedback"]["label"] == "false_positive" and stored["feedback"]["submittedBy"] == "alert-link"
    assert abs(int(suppression()["expiresAt"]["N"]) - (time.time() + 30 * 86400)) < 120
    audit = client("dynamodb").scan(TableName=__import__("os").environ["AUDIT_TABLE"])["Items"]
    assert any(i.get("action", {}).get("S") == "alert_link.false_positive" for i in audit)


def test_altered_expired_and_foreign_links_change_nothing(api, lambda_context):
    good = token("snooze", 24)
    _, mac = good.split(".")
    altered = token("snooze", 336).split(".")[0] + "." + mac
    status, page = call(api, lambda_context, "POST", altered)
    assert status == 400 and "altered" in page
    expired = token("snooze", 4, ttl_hours=1, now=time.time() - 7200)
    status, page = call(api, lambda_context, "POST", expired)
    assert status == 400 and "expired" in page
    other_tenant = token("snooze", 4, tenant="globex")  # validly signed, but that tenant has no such anomaly
    assert call(api, lambda_context, "POST", other_tenant)[0] == 404
    assert suppression() is None and suppression("globex") is None
