"""Given a usage spike from a leaked key, when the notify action sends its alert, then on-call reads the
readable principal, access key, session issuer, account, region, the calls behind the spike, expected vs
observed, CloudTrail and dashboard links and signed one-click actions; signed links cannot be altered,
reused for another anomaly or used after they expire."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest

from anomaly_guardian.auth.action_links import InvalidActionLink, link_key, sign, verify
from anomaly_guardian.config import DetectionConfig
from anomaly_guardian.detection.pipeline import DetectionPipeline
from anomaly_guardian.detection.usage import UsageDetector
from anomaly_guardian.models.event import parse_event
from anomaly_guardian.response.actions import ACTIONS, Request
from anomaly_guardian.state import InMemoryStateStore
from anomaly_guardian.usage.alerts import LinkSettings, alert_context
from anomaly_guardian.usage.cloudtrail import to_event

KEY = link_key(b"unit-test-signing-key")
T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
ARN = "arn:aws:iam::123456789012:user/deploy-bot"


def leaked_key_spike() -> dict:
    records = []
    for k in range(40):
        records.append(
            {
                "eventID": f"ct-{k}",
                "eventTime": (T0 + timedelta(seconds=k * 5)).isoformat().replace("+00:00", "Z"),
                "eventSource": "ec2.amazonaws.com",
                "eventName": "RunInstances",
                "awsRegion": ["us-east-1", "sa-east-1", "ap-northeast-1"][k % 3],
                "recipientAccountId": "123456789012",
                "sourceIPAddress": "185.220.101.4",
                "userAgent": "Boto3/1.28.0 Python/3.10.12",
                "errorCode": "Client.InstanceLimitExceeded" if k % 4 == 0 else None,
                "userIdentity": {"type": "IAMUser", "arn": ARN, "accessKeyId": "AKIAEXAMPLELEAKED01"},
                "requestParameters": {"instancesSet": {"items": [{"instanceType": "g5.12xlarge", "maxCount": 4}]}},
            }
        )
    pipeline = DetectionPipeline(
        InMemoryStateStore(),
        config_for=lambda _t: DetectionConfig(usage={"warmup_hours": 0}),
        detectors=[UsageDetector()],
    )
    anomalies = pipeline.process("platform", [parse_event(to_event(r)) for r in records])
    spike = next(a for a in anomalies if a.explanation[0].feature == "apiCallsPerBucket")
    return spike.model_dump(mode="json")


def links() -> LinkSettings:
    return LinkSettings(
        api_url="https://api.example.com/prod", dashboards_url="https://search.example.com/_dashboards", key=KEY
    )


def test_the_alert_names_who_where_what_and_links_to_the_evidence():
    anomaly = leaked_key_spike()
    ctx = alert_context(anomaly, links())
    u = ctx["usage"]
    assert u["principal"] == {
        "arn": ARN,
        "type": "IAMUser",
        "accessKeyId": "AKIAEXAMPLELEAKED01",
        "sessionIssuer": None,
    }
    assert u["accountId"] == "123456789012"
    # the tallies are those of the bucket up to the call that crossed the threshold (the 2nd: 8 instances)
    assert {r["value"] for r in u["top"]["regions"]} == {"us-east-1", "sa-east-1"}
    assert u["top"]["sourceIps"][0]["value"] == "185.220.101.4"
    assert u["top"]["errorCodes"][0]["value"] == "Client.InstanceLimitExceeded"
    assert u["top"]["resources"][0]["value"] == "g5.12xlarge"
    assert u["observed"] >= 5 and u["observed"] > u["expected"]
    history = urlsplit(ctx["links"]["cloudTrailEventHistory"])
    query = parse_qs(history.fragment.split("?", 1)[1])
    assert query["AccessKeyId"] == ["AKIAEXAMPLELEAKED01"]
    assert query["StartTime"][0] < u["window"]["start"] < u["window"]["end"] < query["EndTime"][0]
    assert (
        "--lookup-attributes AttributeKey=AccessKeyId,AttributeValue=AKIAEXAMPLELEAKED01"
        in ctx["links"]["cloudTrailLookupCli"]
    )
    assert ctx["links"]["dashboard"].startswith(
        "https://search.example.com/_dashboards/app/dashboards#/view/guardian-ec2-usage"
    )
    for name, url in ctx["actions"].items():
        claims = verify(KEY, url.rsplit("/", 1)[1])
        assert claims.tenant == "platform" and claims.anomaly_id == anomaly["anomalyId"]
        assert claims.op == ("false_positive" if name == "falsePositive" else "snooze")
    assert verify(KEY, ctx["actions"]["snooze4h"].rsplit("/", 1)[1]).hours == 4
    text = ctx["text"]
    for needle in (ARN, "AKIAEXAMPLELEAKED01", "185.220.101.4", "us-east-1", "Mark false positive:", "Snooze 24h:"):
        assert needle in text


def test_the_notify_action_publishes_the_enriched_alert_but_webhooks_get_no_signed_actions():
    anomaly = leaked_key_spike()
    published, queued = [], []
    ports = SimpleNamespace(
        alerts=SimpleNamespace(publish=lambda subject, message, *a: published.append((subject, message)) or "m-1"),
        config=SimpleNamespace(
            list_webhooks=lambda t: [{"webhookId": "w1", "enabled": True, "events": ["anomaly.detected"]}]
        ),
        webhook_queue=SimpleNamespace(send_batch=lambda msgs: queued.extend(msgs)),
        alert_links=links(),
    )
    req = Request.parse(
        {"tenantId": "platform", "action": {"type": "notify"}, "anomaly": anomaly, "severity": anomaly["severity"]}
    )
    detail = ACTIONS["notify"](ports, req, time.time(), True)
    assert detail["snsMessageId"] == "m-1"
    subject, message = published[0]
    assert subject.startswith("[HIGH] usage anomaly by deploy-bot: about $") and len(subject) <= 100
    assert message["usage"]["principal"]["arn"] == ARN
    assert message["usage"]["principal"]["accessKeyId"] == "AKIAEXAMPLELEAKED01"
    assert set(message["actions"]) == {"falsePositive", "snooze4h", "snooze24h"}
    assert "CloudTrail:" in message["text"]
    (hook,) = queued
    assert "actions" not in hook["data"] and "links" in hook["data"]


def test_other_anomaly_types_get_no_usage_context():
    assert alert_context({"anomalyType": "velocity", "tenantId": "t", "anomalyId": "a"}, links()) == {}


def test_signed_links_refuse_alteration_other_keys_and_expiry():
    token = sign(KEY, "platform", "01ANOMALY", "snooze", 4, ttl_hours=1, now=1_000_000)
    assert verify(KEY, token, now=1_000_100).hours == 4
    _, mac = token.split(".")
    forged = sign(KEY, "globex", "01ANOMALY", "snooze", 4, now=1_000_000).split(".")[0] + "." + mac
    with pytest.raises(InvalidActionLink, match="altered"):
        verify(KEY, forged, now=1_000_100)
    with pytest.raises(InvalidActionLink, match="altered"):
        verify(link_key(b"another-deployment"), token, now=1_000_100)
    with pytest.raises(InvalidActionLink, match="expired"):
        verify(KEY, token, now=1_000_000 + 3601)
    with pytest.raises(InvalidActionLink, match="not a valid"):
        verify(KEY, "garbage")
    with pytest.raises(ValueError, match="snooze needs"):
        sign(KEY, "platform", "a", "snooze", 0)
