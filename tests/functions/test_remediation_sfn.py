"""statemachines/remediation.asl.json executed by moto's ASL interpreter, tasks routed to the real
actions handler (see response_harness). One test per branch: each type's actions, manual review
approve and reject, retry then success, catch -> failure path marks the incident."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from response_harness import IP, TENANT, LambdaContext, load_handler, make_anomaly, sfn  # noqa: F401

from anomaly_guardian.response.correlation import Incident, correlate


def open_incident(h, anomaly) -> str:
    from anomaly_guardian.adapters.incidents import IncidentRepository

    inc = Incident(incidentId=anomaly["anomalyId"], tenantId=anomaly["tenantId"])
    correlate(inc, anomaly, anomaly["detectedAt"])
    IncidentRepository("test-incidents").save(inc)
    return inc.incidentId


def incident(anomaly_tenant: str, incident_id: str) -> Incident:
    from anomaly_guardian.adapters.incidents import IncidentRepository

    return IncidentRepository("test-incidents").get(anomaly_tenant, incident_id)


def run(h, anomaly, **kw):
    h.res.store_anomaly(anomaly)
    inc_id = open_incident(h, anomaly)
    desc = h.wait(h.start(anomaly, inc_id, **kw))
    return desc, inc_id


def performed(h, anomaly) -> dict[str, str]:
    stored = h.res.stored_anomaly(anomaly["tenantId"], anomaly["anomalyId"])
    return {a["type"]: a["status"] for a in stored["actionsPerformed"]}


def test_velocity_rate_limits_ip_and_user_then_notifies(sfn):  # noqa: F811
    # Given a stored velocity anomaly with its source IP, in an incident
    a = make_anomaly("velocity")
    # When the remediation runs
    desc, inc_id = run(sfn, a)
    # Then it succeeds, the IP is in the WAF IP set and the block list, the user is blocked
    assert desc["status"] == "SUCCEEDED", sfn.history_types(desc["executionArn"])
    assert f"{IP}/32" in sfn.res.waf_addresses()
    blocks = {b["sk"]: b for b in sfn.res.items("BLOCKLIST_TABLE", TENANT, "")}
    assert blocks[f"IP#{IP}"]["expiresAt"] > blocks[f"IP#{IP}"]["ttl"] - 86400 - 1
    assert f"USER#{a['userId']}" in blocks
    # and actionsPerformed, the incident and the audit trail say so
    assert performed(sfn, a) == {"rate_limit": "done", "notify": "done"}
    assert incident(TENANT, inc_id).status == "MITIGATED"
    audit = sfn.res.items("AUDIT_TABLE", TENANT, "AU#")
    assert sorted((r["action"], r["result"], r["dryRun"]) for r in audit) == [
        ("notify", "done", False),
        ("rate_limit", "done", False),
    ]
    # and the HIGH alert reached the severity-filtered subscriber with its attribute
    alerts = sfn.res.alerts()
    assert [m["event"] for m in alerts] == ["anomaly.detected"]
    ops = sfn.ops()  # the Map runs the two actions concurrently: their order is not fixed
    assert ops[0] == "plan" and ops[-1] == "record"
    assert sorted(ops[1:-1]) == ["execute:notify", "execute:rate_limit"]
    assert "MapStateSucceeded" in sfn.history_types(desc["executionArn"])


@pytest.mark.parametrize(
    ("kind", "flag", "extra"),
    [("geolocation", "FLAG#stepup#", {}), ("behavioral", "FLAG#monitor#", {"thresholdFactor": 0.5, "sampleRate": 1.0})],
)
def test_geolocation_and_behavioral_set_expiring_user_flags(sfn, kind, flag, extra):  # noqa: F811
    a = make_anomaly(kind, severity="MEDIUM", score=0.6)
    desc, _ = run(sfn, a)
    assert desc["status"] == "SUCCEEDED"
    (item,) = sfn.res.items("BLOCKLIST_TABLE", TENANT, flag)
    assert item["sk"] == f"{flag}{a['userId']}"
    assert item["expiresAt"] > 0
    for key, value in extra.items():
        assert item[key] == value
    action = "step_up_auth" if kind == "geolocation" else "enhanced_monitoring"
    assert performed(sfn, a) == {action: "done", "notify": "done"}
    assert sfn.res.waf_addresses() == {"198.51.100.99/32"}  # no block for these types
    assert sfn.res.alerts() == []  # MEDIUM is filtered out of the pager subscription


def test_system_anomaly_requests_scale_in_dry_run_by_default(sfn):  # noqa: F811
    a = make_anomaly("system", event={"eventType": "metric", "service": "checkout", "metricName": "p99_ms"})
    desc, _ = run(sfn, a)
    assert desc["status"] == "SUCCEEDED"
    assert performed(sfn, a) == {"scale": "dry_run", "notify": "done"}
    (scale,) = [r for r in sfn.res.items("AUDIT_TABLE", TENANT, "AU#") if r["action"] == "scale"]
    assert scale["dryRun"] is True
    assert scale["detail"] == {"service": "checkout", "metricName": "p99_ms", "direction": "out", "by": 1}


def _review_api(review_id: str, decision: str, tenant: str = TENANT):
    from api_helpers import apigw_event, parse

    from anomaly_guardian.api import deps

    deps.reset_services()
    api = load_handler("api")
    event = apigw_event(
        "apigw_post_review", tenant=tenant, path_params={"reviewId": review_id}, body={"decision": decision}
    )
    return parse(api.lambda_handler(event, LambdaContext()))


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_value_anomaly_holds_the_transaction_and_waits_for_review(sfn, decision):  # noqa: F811
    # Given a large transaction anomaly
    a = make_anomaly("value", severity="CRITICAL", score=0.95, event={"transactionAmount": 9200.0})
    sfn.res.store_anomaly(a)
    inc_id = open_incident(sfn, a)
    execution = sfn.start(a, inc_id)
    review_id = f"rv_{a['anomalyId']}"
    # When the workflow reaches the review, Then the transaction is held and a review record holds the token
    review = sfn.wait_for(lambda: sfn.res.items("INCIDENTS_TABLE", TENANT, f"R#{review_id}"))[0]
    assert review["status"] == "PENDING" and review["taskToken"]
    hold_sk = f"HOLD#{a['originalEvent']['eventId']}"
    assert sfn.res.items("BLOCKLIST_TABLE", TENANT, hold_sk)[0]["status"] == "HELD"
    assert sfn.sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    # and the anomaly already shows what was done while the review is open
    sfn.wait_for(lambda: performed(sfn, a).get("manual_review") == "pending")
    assert performed(sfn, a)["hold_transaction"] == "done"
    # another tenant cannot decide it
    status, body = _review_api(review_id, decision, tenant="globex")
    assert status == 404, body
    # When an analyst decides through POST /reviews/{reviewId}
    status, body = _review_api(review_id, decision)
    assert status == 200, body
    assert body["status"] == ("APPROVED" if decision == "approve" else "REJECTED")
    desc = sfn.wait(execution)
    # Then the workflow resumes and records the decision
    assert desc["status"] == "SUCCEEDED", sfn.history_types(execution)
    holds = sfn.res.items("BLOCKLIST_TABLE", TENANT, hold_sk)
    if decision == "approve":
        assert holds[0]["status"] == "CONFIRMED"
        assert performed(sfn, a)["manual_review"] == "approved"
    else:
        assert holds == []  # released
        assert performed(sfn, a)["manual_review"] == "rejected"
    assert performed(sfn, a)["hold_transaction"] == "done"
    types = [x["type"] for x in sfn.res.stored_anomaly(TENANT, a["anomalyId"])["actionsPerformed"]]
    assert types.count("hold_transaction") == 1 and types.count("manual_review") == 2  # pending, then decided
    # and a different second decision is refused, while repeating the same one is idempotent
    other = "reject" if decision == "approve" else "approve"
    status, body = _review_api(review_id, other)
    assert status == 409 and body["code"] == "CONFLICT"
    status, body = _review_api(review_id, decision)
    assert status == 200 and body["status"] == ("APPROVED" if decision == "approve" else "REJECTED")


def test_transient_error_is_retried_with_backoff_then_succeeds(sfn):  # noqa: F811
    # Given SNS throttles the first publish
    alerts = sfn.actions.ports.alerts
    real = alerts.publish
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "Publish")
        return real(*args, **kwargs)

    alerts.publish = flaky
    try:
        a = make_anomaly("geolocation")
        desc, _ = run(sfn, a)
    finally:
        alerts.publish = real
    # Then the notify task failed once with TransientActionError, was retried and succeeded
    assert desc["status"] == "SUCCEEDED"
    failed = [e for e in sfn.history(desc["executionArn"]) if e["type"] == "TaskFailed"]
    assert [json.loads(e["taskFailedEventDetails"]["cause"])["errorType"] for e in failed] == ["TransientActionError"]
    # after IntervalSeconds (1 s): the retry was scheduled at least a second after the failure
    history = sfn.history(desc["executionArn"])
    fail_at = failed[0]["timestamp"]
    retried = [e["timestamp"] for e in history if e["type"] == "TaskScheduled" and e["timestamp"] > fail_at]
    assert retried and (min(retried) - fail_at).total_seconds() >= 0.9
    assert sfn.ops().count("execute:notify") == 2
    assert performed(sfn, a) == {"step_up_auth": "done", "notify": "done"}
    results = sorted(r["result"] for r in sfn.res.items("AUDIT_TABLE", TENANT, "AU#") if r["action"] == "notify")
    assert results == ["done", "failed"]


def test_permanent_failure_is_caught_marks_the_incident_and_alerts(sfn):  # noqa: F811
    # Given the WAF IP set the action writes has been deleted (a real, non-transient error)
    waf = sfn.res.waf
    lock = waf.get_ip_set(Name="guardian-blocked", Id=sfn.res.env["WAF_IP_SET_ID"], Scope="REGIONAL")["LockToken"]
    waf.delete_ip_set(Name="guardian-blocked", Id=sfn.res.env["WAF_IP_SET_ID"], Scope="REGIONAL", LockToken=lock)
    a = make_anomaly("velocity", severity="CRITICAL", score=0.97)
    # When the remediation runs
    desc, inc_id = run(sfn, a)
    # Then the Catch path ran: execution failed with RemediationFailed, incident marked, alert sent
    assert desc["status"] == "FAILED"
    assert "MarkFailed" in json.dumps(sfn.history(desc["executionArn"]), default=str)
    assert sfn.ops()[-1] == "fail"
    inc = incident(TENANT, inc_id)
    assert inc.status == "REMEDIATION_FAILED"
    stored = sfn.res.stored_anomaly(TENANT, a["anomalyId"])
    assert {"type": "remediation", "status": "failed"}.items() <= stored["actionsPerformed"][-1].items()
    events = [m["event"] for m in sfn.res.alerts()]
    assert "remediation.failed" in events
    # and the failed rate_limit left no partial block behind in the cap counter
    caps = sfn.res.items("AUDIT_TABLE", TENANT, "CAP#rate_limit")
    assert all(c["n"] == 0 for c in caps)


def test_missing_input_field_fails_before_any_action(sfn):  # noqa: F811
    execution = sfn.sfn.start_execution(
        stateMachineArn=sfn.arn, name="bad-input", input=json.dumps({"tenantId": TENANT})
    )["executionArn"]
    desc = sfn.wait(execution)
    assert desc["status"] == "FAILED"
    assert sfn.invocations == []


def test_rule_action_needing_approval_runs_only_after_approval(sfn):  # noqa: F811
    # Given a rule anomaly whose rule asks for a rate limit that needs approval
    rule = {"ruleId": "R-block", "actions": [{"type": "rate_limit", "parameters": {"requireApproval": True}}]}
    a = make_anomaly("rule", matchedRules=[rule])
    sfn.res.store_anomaly(a)
    execution = sfn.start(a, open_incident(sfn, a))
    review_id = f"rv_{a['anomalyId']}"
    review = sfn.wait_for(lambda: sfn.res.items("INCIDENTS_TABLE", TENANT, f"R#{review_id}"))[0]
    # Then while waiting only the notification went out, no block
    assert review["proposedActions"] == ["rate_limit"]
    assert f"{IP}/32" not in sfn.res.waf_addresses()
    assert sorted(sfn.ops()) == ["execute:notify", "open_review", "plan"]
    # When approved, Then the approved block runs and is recorded
    assert _review_api(review_id, "approve")[0] == 200
    desc = sfn.wait(execution)
    assert desc["status"] == "SUCCEEDED", sfn.history_types(execution)
    assert f"{IP}/32" in sfn.res.waf_addresses()
    assert performed(sfn, a) == {"notify": "done", "rate_limit": "done", "manual_review": "approved"}
    (rate,) = [r for r in sfn.res.items("AUDIT_TABLE", TENANT, "AU#") if r["action"] == "rate_limit"]
    assert rate["source"] == "rule:R-block"


def _api(fixture: str, **kw):
    from api_helpers import apigw_event, parse

    from anomaly_guardian.api import deps

    deps.reset_services()
    return parse(load_handler("api").lambda_handler(apigw_event(fixture, **kw), LambdaContext()))


def test_pending_reviews_are_listed_without_tokens_and_a_stopped_workflow_expires_its_review(sfn):  # noqa: F811
    a = make_anomaly("value", event={"transactionAmount": 6100.0})
    sfn.res.store_anomaly(a)
    execution = sfn.start(a, open_incident(sfn, a))
    review_id = f"rv_{a['anomalyId']}"
    sfn.wait_for(lambda: sfn.res.items("INCIDENTS_TABLE", TENANT, f"R#{review_id}"))
    # GET /reviews?status=PENDING lists it for the tenant, never with the task token
    status, body = _api("apigw_get_reviews")
    assert status == 200 and [r["reviewId"] for r in body["reviews"]] == [review_id]
    assert "taskToken" not in json.dumps(body)
    assert _api("apigw_get_reviews", tenant="globex")[1]["reviews"] == []
    # When nothing waits on the token any more (moto does not invalidate the token of a stopped execution,
    # so the review is pointed at a token Step Functions does not know, as after a timeout)
    sfn.res.ddb.update_item(
        TableName="test-incidents",
        Key={"pk": {"S": f"T#{TENANT}"}, "sk": {"S": f"R#{review_id}"}},
        UpdateExpression="SET taskToken = :t",
        ExpressionAttributeValues={":t": {"S": "AAAAKgAAAAIAAAAAAAAAAf0nS2lsbGVkLXRva2Vu"}},
    )
    status, body = _review_api(review_id, "approve")
    # Then the API says so and the review is marked expired (the held transaction stays held)
    assert status == 409 and body["code"] == "REVIEW_EXPIRED", body
    assert sfn.res.items("INCIDENTS_TABLE", TENANT, f"R#{review_id}")[0]["status"] == "EXPIRED"
    sfn.sfn.stop_execution(executionArn=execution, error="Aborted", cause="test cleanup")
