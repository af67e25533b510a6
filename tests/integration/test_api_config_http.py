"""Rules, feedback, webhooks and erasure over HTTP on the local stack (real authorizer, detector, API).

Given a tenant of its own per test (no interference), when a rule is created through the API and a
matching event is POSTed, then the detector raises a `rule` anomaly carrying the rule's actions;
feedback lands on the anomaly; unsafe webhooks are refused; DELETE /subjects erases the person.
"""

from __future__ import annotations

import uuid

from local_helpers import wait_for

RULE = {
    "ruleName": "Large transfers",
    "ruleType": "threshold",
    "conditions": {"metric": "transactionAmount", "operator": ">", "threshold": 10000},
    "actions": [{"type": "hold_transaction", "parameters": {"minutes": 30}}],
    "severity": "CRITICAL",
}


def tenant() -> str:
    return f"it-{uuid.uuid4().hex[:10]}"


def post_event(api, t, user, amount):
    ev = {
        "eventId": f"it-{uuid.uuid4().hex[:12]}",
        "userId": user,
        "timestamp": "2026-03-02T10:00:00Z",
        "eventType": "transaction",
        "transactionAmount": amount,
    }
    assert api("POST", "/events", tenant=t, json=ev).status_code == 202
    return ev["eventId"]


def rule_anomalies(api, t, event_id):
    body = api("GET", "/anomalies", tenant=t, params={"limit": 1000}).json()
    return [a for a in body["anomalies"] if a["anomalyType"] == "rule" and a["originalEvent"]["eventId"] == event_id]


def test_rule_created_through_the_api_fires_for_its_tenant_only(api):
    a, b = tenant(), tenant()
    created = api("POST", "/rules", tenant=a, json=RULE)
    assert created.status_code == 201, created.text
    rule_id = created.json()["ruleId"]

    hit = post_event(api, a, "alice", 12_000)
    found = wait_for(lambda: rule_anomalies(api, a, hit), timeout=8)
    assert found, "no rule anomaly within 8 s"
    anomaly = found[0]
    assert anomaly["severity"] == "CRITICAL"
    assert anomaly["matchedRules"][0]["ruleId"] == rule_id
    assert anomaly["matchedRules"][0]["actions"] == [{"type": "hold_transaction", "parameters": {"minutes": 30}}]

    miss = post_event(api, b, "alice", 12_000)  # same event, other tenant: no rules there
    assert not wait_for(lambda: rule_anomalies(api, b, miss), timeout=2)

    # Feedback on it, visible on the anomaly; the other tenant cannot touch it.
    path = f"/anomalies/{anomaly['anomalyId']}/feedback"
    assert api("POST", path, tenant=b, json={"label": "true_positive"}).status_code == 404
    fb = api("POST", path, tenant=a, json={"label": "true_positive", "note": "confirmed fraud"})
    assert fb.status_code == 200, fb.text
    again = api("GET", f"/anomalies/{anomaly['anomalyId']}", tenant=a).json()
    assert again["feedback"]["label"] == "true_positive" and again["feedback"]["note"] == "confirmed fraud"

    # Erasure removes alice's anomalies in tenant a.
    erased = api("DELETE", "/subjects/alice", tenant=a)
    assert erased.status_code == 200 and erased.json()["anomaliesDeleted"] >= 1
    assert rule_anomalies(api, a, hit) == []
    assert api("GET", f"/anomalies/{anomaly['anomalyId']}", tenant=a).status_code == 404


def test_rules_crud_and_validation_over_http(api):
    t = tenant()
    bad = api("POST", "/rules", tenant=t, json={**RULE, "conditions": {**RULE["conditions"], "metric": "shoeSize"}})
    assert bad.status_code == 400 and "conditions.metric" in bad.json()["message"]
    rid = api("POST", "/rules", tenant=t, json=RULE).json()["ruleId"]
    put = api("PUT", f"/rules/{rid}", tenant=t, json={**RULE, "enabled": False})
    assert put.status_code == 200 and put.json()["version"] == 2 and put.json()["enabled"] is False
    assert api("DELETE", f"/rules/{rid}", tenant=t).status_code == 204
    assert api("GET", "/rules", tenant=t, params={"builtIn": "false"}).json() == {"rules": []}


def test_unsafe_webhooks_are_refused_and_nothing_is_listed(api):
    t = tenant()
    for url in ("https://169.254.169.254/latest/meta-data/", "http://hooks.example.com/", "https://10.0.0.1/"):
        body = {"url": url, "events": ["anomaly.detected"], "secret": "0123456789abcdef"}
        resp = api("POST", "/webhooks", tenant=t, json=body)
        assert resp.status_code == 400 and resp.json()["message"].startswith("Invalid field url"), resp.text
    assert api("GET", "/webhooks", tenant=t).json() == {"webhooks": []}


def test_guardian_rules_and_webhooks_commands_talk_to_the_api(local_stack, tmp_path):
    import json
    import subprocess
    import sys

    t = tenant()
    rule_file = tmp_path / "rule.json"
    rule_file.write_text(json.dumps(RULE))

    def guardian(*argv):
        return subprocess.run(
            [sys.executable, "-m", "anomaly_guardian.cli", *argv, "--api", local_stack.api, "--tenant", t],
            capture_output=True,
            text=True,
            timeout=60,
        )

    created = guardian("rules", "create", str(rule_file))
    assert created.returncode == 0, created.stderr
    rule_id = json.loads(created.stdout)["ruleId"]
    listed = guardian("rules", "list")
    assert [r["ruleId"] for r in json.loads(listed.stdout)["rules"] if not r["builtIn"]] == [rule_id]
    assert guardian("rules", "delete", rule_id).returncode == 0
    again = guardian("rules", "delete", rule_id)
    assert again.returncode == 1 and f"Rule {rule_id} not found" in again.stderr

    hook_file = tmp_path / "hook.json"
    hook_file.write_text(json.dumps({"url": "https://10.0.0.1/", "events": ["anomaly.detected"], "secret": "x" * 16}))
    refused = guardian("webhooks", "create", str(hook_file))
    assert refused.returncode == 1 and "HTTP 400: Invalid field url" in refused.stderr
