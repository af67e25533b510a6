"""Built-in detectors as per-tenant rules: the API (real handler, moto DynamoDB) and the detector path.

Given the API Lambda, when a tenant reads GET /rules, then the seven built-in detectors are listed with
their default thresholds; PUT of the GET body with the threshold changed stores a new version (audited,
with history), a stale version is 409, invalid thresholds and read-only changes are 400 naming the field,
DELETE is refused. Given the real detector Lambda, a tenant's tuned or disabled detector applies to its
events only.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from api_helpers import apigw_event, parse

from anomaly_guardian.adapters.anomalies import AnomalyRepository
from anomaly_guardian.adapters.config_repo import ConfigRepository, TenantConfigProvider
from anomaly_guardian.adapters.dynamodb import client
from anomaly_guardian.detection.builtin import BUILTIN_IDS

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@pytest.fixture
def call(tables, monkeypatch, handler_module, lambda_context):
    from anomaly_guardian.api import deps

    monkeypatch.setenv("GUARDIAN_PSEUDONYM_KEY", "test-pseudonym-key")
    deps.reset_services()
    module = handler_module("api")

    def _call(method, path, tenant="acme", body=None, sub=None):
        fixture = {"GET": "apigw_get_rules", "PUT": "apigw_put_rule", "DELETE": "apigw_delete_rule"}[method]
        event = apigw_event(fixture, tenant=tenant, path=path, body=body if body is not None else {})
        event["resource"] = "/rules/{ruleId}" if path.count("/") >= 2 else "/rules"
        event["pathParameters"] = {"ruleId": path.split("/")[2]} if path.count("/") >= 2 else None
        if body is None:
            event["body"] = None
        if sub:
            event["requestContext"]["authorizer"]["sub"] = sub
        return parse(module.lambda_handler(event, lambda_context))

    yield _call
    deps.reset_services()


def audit_records(tenant):
    resp = client("dynamodb").scan(TableName="test-audit")
    from anomaly_guardian.adapters.dynamodb import from_item

    return [from_item(i) for i in resp["Items"] if from_item(i)["pk"] == f"T#{tenant}"]


def test_get_rules_lists_every_builtin_with_its_default_threshold(call):
    status, body = call("GET", "/rules")
    assert status == 200
    builtins = {r["ruleId"]: r for r in body["rules"] if r["builtIn"]}
    assert tuple(builtins) == BUILTIN_IDS
    velocity = builtins["velocity-check"]
    assert velocity["conditions"] == {"metric": "eventsPerUser", "operator": ">", "threshold": 100, "timeWindow": 300}
    assert velocity["enabled"] is True and velocity["version"] == 1
    assert velocity["actions"][0]["type"] == "rate_limit"
    assert builtins["value-check"]["conditions"]["threshold"] == 5000
    assert builtins["cost-check"]["conditions"]["threshold"] == 100
    status, one = call("GET", "/rules/geolocation-check")
    assert status == 200 and one["conditions"]["threshold"] == 900


def test_put_the_get_body_with_a_new_threshold_versions_audits_and_isolates_tenants(call):
    _, rule = call("GET", "/rules/velocity-check")
    status, updated = call(
        "PUT", "/rules/velocity-check", body={**rule, "conditions": {**rule["conditions"], "threshold": 150}}, sub="ops"
    )
    assert status == 200, updated
    assert updated["conditions"]["threshold"] == 150 and updated["version"] == 2 and updated["updatedBy"] == "ops"
    assert call("GET", "/rules/velocity-check")[1]["conditions"]["threshold"] == 150
    assert call("GET", "/rules/velocity-check", tenant="globex")[1]["conditions"]["threshold"] == 100

    # The stale body (version 1) is refused; the current one goes through.
    stale = call("PUT", "/rules/velocity-check", body={**rule, "enabled": False})
    assert stale[0] == 409 and stale[1]["code"] == "VERSION_CONFLICT" and "version 2" in stale[1]["message"]
    status, off = call("PUT", "/rules/velocity-check", body={**updated, "enabled": False})
    assert status == 200 and off["enabled"] is False and off["version"] == 3

    changes = [r for r in audit_records("acme") if r["action"] == "rule.builtin.update"]
    assert [(c["old"], c["new"], c["actor"]) for c in changes] == [
        ({"threshold": 100, "enabled": True}, {"threshold": 150, "enabled": True}, "ops"),
        ({"threshold": 150, "enabled": True}, {"threshold": 150, "enabled": False}, "cli:acme"),
    ]
    assert all(c.get("at") for c in changes)
    status, history = call("GET", "/rules/velocity-check/history")
    assert status == 200 and [(c["version"], c["new"]["threshold"], c["by"]) for c in history["changes"]] == [
        (2, 150, "ops"),
        (3, 150, "cli:acme"),
    ]
    # The effective config the detector reads for each tenant.
    repo = ConfigRepository("test-config")
    configs = TenantConfigProvider(repo.builtin_overrides_many)
    assert configs("acme").velocity.max_events_per_user == 150 and configs("acme").velocity.enabled is False
    assert configs("globex").velocity.max_events_per_user == 100 and configs("globex").velocity.enabled is True


@pytest.mark.parametrize(
    ("rule_id", "change", "message"),
    [
        ("velocity-check", {"threshold": 0}, "must be at least 1"),
        ("velocity-check", {"threshold": 150.5}, "whole number"),
        ("velocity-check", {"threshold": "high"}, "finite number"),
        ("behavioral-check", {"threshold": 1.5}, "at most 1"),
        ("value-check", {"threshold": -5}, "above 0"),
        ("velocity-check", {"metric": "transactionAmount"}, "conditions.metric"),
        ("velocity-check", {"timeWindow": 600}, "conditions.timeWindow"),
        ("velocity-check", {"shoeSize": 3}, "conditions.shoeSize"),
    ],
)
def test_invalid_builtin_settings_are_400_naming_the_problem(call, rule_id, change, message):
    _, rule = call("GET", f"/rules/{rule_id}")
    status, body = call("PUT", f"/rules/{rule_id}", body={**rule, "conditions": {**rule["conditions"], **change}})
    assert status == 400 and body["code"] == "INVALID_PAYLOAD" and message in body["message"], body
    assert call("GET", f"/rules/{rule_id}")[1]["version"] == 1


def test_builtins_cannot_be_deleted_or_given_foreign_fields(call):
    status, body = call("DELETE", "/rules/velocity-check")
    assert status == 400 and body["code"] == "BUILTIN_RULE" and "cannot be deleted" in body["message"]
    _, rule = call("GET", "/rules/value-check")
    status, body = call("PUT", "/rules/value-check", body={**rule, "severity": "LOW"})
    assert status == 400 and "severity" in body["message"]
    status, body = call("PUT", "/rules/value-check", body={**rule, "actions": []})
    assert status == 400 and "actions" in body["message"]
    assert call("GET", "/rules/no-such-check")[0] == 400  # not a ULID, not a built-in id


def test_tenant_rules_put_with_an_old_version_is_409(call):
    rule = {
        "ruleName": "big",
        "conditions": {"metric": "transactionAmount", "operator": ">", "threshold": 10},
        "actions": [],
    }
    created = parse_post(call, rule)
    _, got = call("GET", f"/rules/{created['ruleId']}")
    status, v2 = call("PUT", f"/rules/{created['ruleId']}", body={**got, "ruleName": "bigger"})
    assert status == 200 and v2["version"] == 2 and v2["ruleName"] == "bigger"
    status, body = call("PUT", f"/rules/{created['ruleId']}", body={**got, "ruleName": "stale"})
    assert status == 409 and body["code"] == "VERSION_CONFLICT"
    updates = [r for r in audit_records("acme") if r["action"] == "rule.update"]
    assert [(u["old"], u["new"], u["version"]) for u in updates] == [({"ruleName": "big"}, {"ruleName": "bigger"}, 2)]


def parse_post(call, rule):
    from anomaly_guardian.api import deps
    from anomaly_guardian.detection.rules import RuleSpec

    call("GET", "/rules")  # builds the services from the environment
    return deps.current_services().config.create_rule("acme", RuleSpec(**rule)).model_dump(mode="json")


# ---- the detector path ------------------------------------------------------------------------------


def burst(tenant, user, n, start, seconds, seq0=0):
    """`n` login events of one user (no IP: only the user window counts) over `seconds`, as Kinesis records."""
    records = []
    for i in range(n):
        at = start + timedelta(seconds=seconds * i / n)
        event = {
            "eventId": f"{tenant}-{user}-{i}",
            "userId": user,
            "timestamp": at.isoformat().replace("+00:00", "Z"),
            "eventType": "login",
        }
        data = json.dumps({"tenantId": tenant, "receivedAt": "2026-03-01T12:05:00Z", "event": event}).encode()
        seq = str(seq0 + i)
        records.append({"kinesis": {"sequenceNumber": seq, "data": base64.b64encode(data).decode()}, "eventID": seq})
    return records


def velocity(tenant):
    items, _ = AnomalyRepository("test-anomalies", token_key=b"k").query(tenant, limit=1000)
    return [a for a in items if a["anomalyType"] == "velocity"]


def test_the_detector_lambda_judges_each_tenant_with_its_own_thresholds(
    tables, detector_dlq, handler_module, lambda_context
):
    repo = ConfigRepository("test-config")
    repo.put_builtin("tuned", "velocity-check", threshold=150, enabled=True, expected_version=1, actor="t", old={})
    repo.put_builtin("quiet", "velocity-check", threshold=100, enabled=False, expected_version=1, actor="t", old={})
    detector = handler_module("detector")
    start = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    records = []
    for k, tenant in enumerate(("tuned", "default", "quiet")):
        records += burst(tenant, "u-1", 130, start, 120, seq0=1000 * k)
    reads = []
    real = detector.detector.pipeline.config_for._loader
    detector.detector.pipeline.config_for._loader = lambda tenants: reads.append(sorted(tenants)) or real(tenants)

    assert detector.lambda_handler({"Records": records}, lambda_context) == {"batchItemFailures": []}
    assert velocity("tuned") == []
    assert velocity("quiet") == []
    found = velocity("default")
    assert len(found) == 1 and "More than 100 events from one user" in found[0]["description"]
    assert reads == [["default", "quiet", "tuned"]]  # one batched read for the batch's three tenants
