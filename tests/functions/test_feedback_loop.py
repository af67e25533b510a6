"""The closing loop, through the real handlers on emulated AWS: analyst feedback (API function) ->
suppression in the Config table -> the detector function drops matching anomalies; and the
enhanced_monitoring action's flag (BlockList) -> the detector judges that user with lower thresholds."""

from __future__ import annotations

import base64
import json
import time
from types import SimpleNamespace

import pytest
from api_helpers import apigw_event

from anomaly_guardian.adapters.anomalies import AnomalyRepository
from anomaly_guardian.adapters.blocklist_admin import BlockListAdmin
from anomaly_guardian.adapters.config_repo import ConfigRepository
from anomaly_guardian.adapters.dynamodb import client
from anomaly_guardian.privacy import Pseudonymiser
from anomaly_guardian.response.actions import ACTIONS, Request

T0 = 1_772_366_400  # 2026-03-01T12:00:00Z


@pytest.fixture
def handlers(tables, detector_dlq, handler_module, kms_key, monkeypatch):
    from anomaly_guardian.api import deps

    monkeypatch.setenv("GUARDIAN_PSEUDONYM_KEY", "test-pseudonym-key")
    monkeypatch.setenv("FEEDBACK_CACHE_SECONDS", "0")  # every batch reads the tables (no 30 s cache)
    deps.reset_services()
    api, detector = handler_module("api"), handler_module("detector")
    yield api, detector
    deps.reset_services()


@pytest.fixture
def kms_key(aws, monkeypatch):
    key = client("kms").create_key()["KeyMetadata"]["KeyId"]
    monkeypatch.setenv("SECRETS_KMS_KEY_ID", key)
    return key


_seq = iter(range(1, 10_000))


def record(tenant, user, eid, at, **fields):
    event = {"eventId": eid, "userId": user, "eventType": "api_request", "ipAddress": "198.51.100.7"}
    event |= {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))} | fields
    data = json.dumps({"tenantId": tenant, "receivedAt": event["timestamp"], "event": event}).encode()
    seq = next(_seq)
    return {
        "eventSource": "aws:kinesis",
        "eventID": f"shardId-000000000000:{seq}",
        "kinesis": {"sequenceNumber": str(seq), "partitionKey": user, "data": base64.b64encode(data).decode()},
    }


def detect(detector, ctx, *records):
    """Run one Kinesis batch; returns the anomalies stored for those events ({eventId: [anomalyType]})."""
    resp = detector.lambda_handler({"Records": list(records)}, ctx)
    assert resp == {"batchItemFailures": []}
    ids = {json.loads(base64.b64decode(r["kinesis"]["data"]))["event"]["eventId"] for r in records}
    out: dict[str, list] = {}
    for tenant in ("acme", "globex"):
        items, _ = AnomalyRepository("test-anomalies", token_key=b"k").query(tenant, limit=1000)
        for a in items:
            if a["originalEvent"]["eventId"] in ids:
                out.setdefault(a["originalEvent"]["eventId"], []).append(a)
    return out


def feedback(api, ctx, tenant, anomaly_id, label, **extra):
    event = apigw_event(
        "apigw_post_feedback", tenant=tenant, path_params={"anomalyId": anomaly_id}, body={"label": label} | extra
    )
    resp = api.lambda_handler(event, ctx)
    return resp["statusCode"], json.loads(resp["body"])


def user(tenant, raw):
    return Pseudonymiser(b"test-pseudonym-key").user(tenant, raw)


class TestFeedbackSuppression:
    def test_false_positive_suppresses_the_pattern_until_a_true_positive_lifts_it(self, handlers, lambda_context):
        api, det = handlers
        # Given a velocity anomaly (reported 60 requests/s against a limit of 50) for user-1
        (first,) = detect(det, lambda_context, record("acme", "user-1", "e1", T0, requestsPerSecond=60))["e1"]
        assert first["anomalyType"] == "velocity" and first["severity"] == "HIGH"
        # When the analyst marks it a false positive
        status, body = feedback(api, lambda_context, "acme", first["anomalyId"], "false_positive", note="load test")
        assert status == 200
        assert body["suppression"]["status"] == "suppressed"
        assert body["suppression"]["entity"] == user("acme", "user-1") == first["userId"]
        stored = client("dynamodb").get_item(
            TableName=ConfigRepository("test-config").table,
            Key={"pk": {"S": "T#acme"}, "sk": {"S": f"SUPPRESS#velocity#{first['userId']}"}},
        )["Item"]
        assert stored["ttl"]["N"] == stored["expiresAt"]["N"]
        assert abs(int(stored["expiresAt"]["N"]) - (time.time() + 30 * 86400)) < 120  # default 30 days
        # Then the next matching event (after the detector's own cooldown) is suppressed: nothing stored
        later = T0 + 700
        found = detect(
            det,
            lambda_context,
            record("acme", "user-1", "e2", later, requestsPerSecond=60),
            record("acme", "user-2", "e3", later, requestsPerSecond=60),  # another user still fires
            record("acme", "user-1", "e4", later + 1, transactionAmount=9000.0, eventType="transaction"),
        )
        assert "e2" not in found
        assert [a["anomalyType"] for a in found["e3"]] == ["velocity"]
        assert "value" in [a["anomalyType"] for a in found["e4"]]  # another type of the same user still fires
        # And a CRITICAL finding of the suppressed pattern is never silenced
        crit = detect(det, lambda_context, record("acme", "user-1", "e5", later + 1400, requestsPerSecond=5000))
        assert crit["e5"][0]["severity"] == "CRITICAL"
        # When a true_positive verdict arrives on an anomaly of the same pattern
        status, body = feedback(api, lambda_context, "acme", first["anomalyId"], "true_positive")
        assert status == 200 and body["suppression"]["status"] == "lifted"
        # Then the pattern fires again
        again = detect(det, lambda_context, record("acme", "user-1", "e6", later + 3000, requestsPerSecond=60))
        assert [a["anomalyType"] for a in again["e6"]] == ["velocity"]

    def test_suppressed_anomalies_are_counted_in_emf(self, handlers, lambda_context, capsys):
        api, det = handlers
        (first,) = detect(det, lambda_context, record("acme", "user-1", "m1", T0, requestsPerSecond=60))["m1"]
        feedback(api, lambda_context, "acme", first["anomalyId"], "false_positive")
        capsys.readouterr()
        assert detect(det, lambda_context, record("acme", "user-1", "m2", T0 + 700, requestsPerSecond=60)) == {}
        metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
        assert any(m.get("AnomaliesSuppressed") == [1.0] or m.get("AnomaliesSuppressed") == 1.0 for m in metrics)

    def test_value_above_the_absolute_limit_fires_despite_a_suppression(self, handlers, lambda_context):
        api, det = handlers
        (first,) = detect(
            det, lambda_context, record("acme", "u9", "v1", T0, eventType="transaction", transactionAmount=6000.0)
        )["v1"]
        assert first["anomalyType"] == "value" and first["severity"] != "CRITICAL"
        assert (
            feedback(api, lambda_context, "acme", first["anomalyId"], "false_positive")[1]["suppression"]["status"]
            == "suppressed"
        )
        found = detect(
            det, lambda_context, record("acme", "u9", "v2", T0 + 60, eventType="transaction", transactionAmount=6500.0)
        )
        assert [a["anomalyType"] for a in found["v2"]] == ["value"]

    def test_an_expired_suppression_no_longer_suppresses(self, handlers, lambda_context):
        api, det = handlers
        (first,) = detect(det, lambda_context, record("acme", "user-1", "x1", T0, requestsPerSecond=60))["x1"]
        feedback(api, lambda_context, "acme", first["anomalyId"], "false_positive", suppressDays=1)
        # Given the suppression's expiry has passed but DynamoDB's TTL sweep has not deleted it yet
        client("dynamodb").update_item(
            TableName=ConfigRepository("test-config").table,
            Key={"pk": {"S": "T#acme"}, "sk": {"S": f"SUPPRESS#velocity#{first['userId']}"}},
            UpdateExpression="SET expiresAt = :p",
            ExpressionAttributeValues={":p": {"N": str(int(time.time()) - 5)}},
        )
        found = detect(det, lambda_context, record("acme", "user-1", "x2", T0 + 700, requestsPerSecond=60))
        assert [a["anomalyType"] for a in found["x2"]] == ["velocity"]

    def test_another_tenants_feedback_never_suppresses(self, handlers, lambda_context):
        api, det = handlers
        # Given globex marks its own user-1 velocity anomaly a false positive
        (theirs,) = detect(det, lambda_context, record("globex", "user-1", "g1", T0, requestsPerSecond=60))["g1"]
        assert feedback(api, lambda_context, "globex", theirs["anomalyId"], "false_positive")[0] == 200
        # and acme cannot label globex's anomaly at all
        assert feedback(api, lambda_context, "acme", theirs["anomalyId"], "false_positive")[0] == 404
        # Then acme's user-1 with the same raw id still fires
        found = detect(det, lambda_context, record("acme", "user-1", "a1", T0 + 60, requestsPerSecond=60))
        assert [a["anomalyType"] for a in found["a1"]] == ["velocity"]
        assert ConfigRepository("test-config").list_suppressions("acme") == []


def monitor(tenant, raw_user, factor=0.5, minutes=720):
    """The real enhanced_monitoring action (live) writing its flag to the BlockList table."""
    req = Request.parse(
        {
            "tenantId": tenant,
            "action": {
                "type": "enhanced_monitoring",
                "parameters": {"thresholdFactor": factor, "durationMinutes": minutes},
            },
            "anomaly": {"anomalyId": "01JTEST", "tenantId": tenant, "userId": user(tenant, raw_user)},
        }
    )
    return ACTIONS["enhanced_monitoring"](
        SimpleNamespace(blocks=BlockListAdmin("test-blocklist")), req, time.time(), True
    )


class TestEnhancedMonitoring:
    def test_a_monitored_user_is_judged_with_lower_thresholds(self, handlers, lambda_context):
        _, det = handlers
        monitor("acme", "watched")
        # 30 requests/s: under the limit of 50, above the monitored limit of 25
        found = detect(
            det,
            lambda_context,
            record("acme", "watched", "w1", T0, requestsPerSecond=30),
            record("acme", "plain", "p1", T0, requestsPerSecond=30),
            record("globex", "watched", "gw", T0, requestsPerSecond=30),  # the flag is acme's only
        )
        assert [a["anomalyType"] for a in found["w1"]] == ["velocity"]
        assert found["w1"][0]["explanation"][0]["expected"] == 25
        assert "p1" not in found and "gw" not in found

    def test_an_expired_flag_is_ignored(self, handlers, lambda_context):
        _, det = handlers
        monitor("acme", "was-watched")
        BlockListAdmin("test-blocklist").update(
            "acme", f"FLAG#monitor#{user('acme', 'was-watched')}", {"expiresAt": int(time.time()) - 1}
        )
        found = detect(det, lambda_context, record("acme", "was-watched", "w2", T0, requestsPerSecond=30))
        assert found == {}


def test_erasing_a_subject_deletes_the_suppressions_naming_them(handlers, lambda_context):
    api, det = handlers
    (first,) = detect(det, lambda_context, record("acme", "user-1", "s1", T0, requestsPerSecond=60))["s1"]
    (other,) = detect(det, lambda_context, record("acme", "user-2", "s2", T0, requestsPerSecond=60))["s2"]
    for a in (first, other):
        feedback(api, lambda_context, "acme", a["anomalyId"], "false_positive")
    resp = api.lambda_handler(apigw_event("apigw_delete_subject", path_params={"userId": "user-1"}), lambda_context)
    assert json.loads(resp["body"])["suppressionsDeleted"] == 1
    assert [s["entity"] for s in ConfigRepository("test-config").list_suppressions("acme")] == [user("acme", "user-2")]


def test_feedback_on_a_rule_hit_suppresses_nothing(handlers, lambda_context):
    api, _ = handlers
    from anomaly_guardian.models.anomaly import Anomaly

    hit = Anomaly(
        tenantId="acme",
        severity="MEDIUM",
        anomalyScore=0.6,
        userId=user("acme", "user-1"),
        anomalyType="rule",
        description="rule matched",
        originalEvent={"eventId": "r1", "timestamp": "2026-03-01T12:00:00Z", "eventType": "login"},
    )
    AnomalyRepository("test-anomalies", token_key=b"k").put_many([hit])
    status, body = feedback(api, lambda_context, "acme", hit.anomalyId, "false_positive")
    assert status == 200 and body["suppression"] == {
        "status": "none",
        "anomalyType": None,
        "entity": None,
        "expiresAt": None,
    }
    assert ConfigRepository("test-config").list_suppressions("acme") == []
