"""The actions handler's rails against emulated AWS: dry-run, kill switch per tenant, blast-radius cap,
idempotency, audit records, and expiry (block_expiry lifts what expired, and only that)."""

from __future__ import annotations

import copy
import json
import time

import pytest
from response_harness import EVENTS, IP, OTHER, TENANT, LambdaContext, load_handler, make_anomaly, response_aws  # noqa: F401


@pytest.fixture
def actions(response_aws):  # noqa: F811
    return load_handler("actions")


def request(anomaly, action, ip=IP, **params):
    return {
        "op": "execute",
        "tenantId": anomaly["tenantId"],
        "anomaly": anomaly,
        "incidentId": None,
        "subjectIp": ip,
        "severity": anomaly["severity"],
        "action": {"type": action, "parameters": params, "source": "default"},
    }


def every_action(tenant):
    return [
        request(make_anomaly("velocity", tenant=tenant), "rate_limit"),
        request(make_anomaly("value", tenant=tenant), "hold_transaction"),
        request(make_anomaly("geolocation", tenant=tenant), "step_up_auth"),
        request(make_anomaly("behavioral", tenant=tenant), "enhanced_monitoring"),
        request(make_anomaly("system", tenant=tenant, event={"service": "checkout"}), "scale"),
        request(make_anomaly("velocity", tenant=tenant), "notify"),
    ]


def test_fixture_event_runs_through_the_handler(actions, response_aws, lambda_context):  # noqa: F811
    event = json.loads((EVENTS / "sfn_task_execute_rate_limit.json").read_text())
    event["subjectIp"] = IP
    result = actions.lambda_handler(event, lambda_context)
    assert result["status"] == "done"
    assert f"{IP}/32" in response_aws.waf_addresses()
    # the audit trail (kept for months) has the /24, never the raw address
    (audit,) = response_aws.items("AUDIT_TABLE", "acme", "AU#")
    assert audit["detail"]["ip"] == "93.184.216.0/24"
    assert IP not in json.dumps(response_aws.ddb.scan(TableName="test-audit")["Items"])
    plan = actions.lambda_handler(json.loads((EVENTS / "sfn_task_plan.json").read_text()), lambda_context)
    assert [a["type"] for a in plan["actions"]] == ["rate_limit", "notify"]


def test_dry_run_changes_nothing_but_records_what_it_would_do(actions, response_aws, lambda_context):  # noqa: F811
    # Given a tenant in dry-run
    response_aws.settings(TENANT, dryRun=True)
    waf_before = response_aws.waf_addresses()
    # When every action type runs
    results = [actions.lambda_handler(r, lambda_context) for r in every_action(TENANT)]
    # Then each reports dry_run with the same detail a live run would apply...
    assert {r["status"] for r in results} == {"dry_run"}
    assert results[0]["detail"]["ip"] == IP and results[0]["detail"]["waf"] is True
    # ...and nothing changed: WAF, block list, queues, SNS subscriber
    assert response_aws.waf_addresses() == waf_before
    assert response_aws.items("BLOCKLIST_TABLE", TENANT, "") == []
    assert response_aws.drain(response_aws.env["WEBHOOK_QUEUE_URL"]) == []
    assert response_aws.alerts() == []
    audit = response_aws.items("AUDIT_TABLE", TENANT, "AU#")
    assert len(audit) == 6 and all(r["dryRun"] is True and r["result"] == "dry_run" for r in audit)
    assert response_aws.items("AUDIT_TABLE", TENANT, "CAP#") == []  # dry runs do not use the cap


def test_kill_switch_stops_every_action_of_one_tenant_and_no_other(actions, response_aws, lambda_context):  # noqa: F811
    # Given acme's kill switch is on and globex's is not (both live, scale live too)
    response_aws.settings(TENANT, killSwitch=True, dryRunActions=[])
    response_aws.settings(OTHER, dryRunActions=[])
    # When every action runs for both tenants
    acme = [actions.lambda_handler(r, lambda_context) for r in every_action(TENANT)]
    globex = [actions.lambda_handler(r, lambda_context) for r in every_action(OTHER)]
    # Then acme's were all skipped and audited as such, globex's all done
    assert [(r["type"], r["status"], r.get("reason")) for r in acme] == [
        (t, "skipped", "kill_switch")
        for t in ("rate_limit", "hold_transaction", "step_up_auth", "enhanced_monitoring", "scale", "notify")
    ]
    assert {r["status"] for r in globex} == {"done"}
    assert response_aws.items("BLOCKLIST_TABLE", TENANT, "") == []
    assert {b["sk"].split("#")[0] for b in response_aws.items("BLOCKLIST_TABLE", OTHER, "")} == {
        "IP",
        "USER",
        "HOLD",
        "FLAG",
    }
    assert {r["result"] for r in response_aws.items("AUDIT_TABLE", TENANT, "AU#")} == {"skipped"}
    # and globex's block is in WAF (the IP set is shared; acme blocked nothing)
    assert f"{IP}/32" in response_aws.waf_addresses()


def test_blast_radius_cap_is_counted_per_tenant_per_hour(actions, response_aws, lambda_context):  # noqa: F811
    # Given a cap of 2 blocks per hour
    response_aws.settings(TENANT, actionCaps={"rate_limit": 2})
    ips = ["93.184.216.1", "93.184.216.2", "93.184.216.3"]
    # When three different IPs are to be blocked
    results = [
        actions.lambda_handler(request(make_anomaly("velocity"), "rate_limit", ip=ip), lambda_context) for ip in ips
    ]
    # Then two are blocked, the third is skipped with the reason, and an alert says the cap was reached
    assert [r["status"] for r in results] == ["done", "done", "skipped"]
    assert results[2]["reason"] == "blast_radius_cap"
    assert {f"{ip}/32" for ip in ips[:2]} <= response_aws.waf_addresses()
    assert f"{ips[2]}/32" not in response_aws.waf_addresses()
    assert [a["event"] for a in response_aws.alerts()] == ["response.capped"]
    # and another tenant still has its own budget
    other = actions.lambda_handler(request(make_anomaly("velocity", tenant=OTHER), "rate_limit"), lambda_context)
    assert other["status"] == "done"


def test_same_anomaly_and_action_twice_has_one_effect(actions, response_aws, lambda_context):  # noqa: F811
    a = make_anomaly("velocity")
    first = actions.lambda_handler(request(a, "notify"), lambda_context)
    second = actions.lambda_handler(request(a, "notify"), lambda_context)
    assert first["status"] == "done"
    assert second == first | {"duplicate": True}
    assert len(response_aws.alerts()) == 1  # one SNS message, not two
    assert len(response_aws.items("AUDIT_TABLE", TENANT, "AU#")) == 1
    caps = response_aws.items("AUDIT_TABLE", TENANT, "CAP#notify")
    assert caps[0]["n"] == 1


def test_bad_input_is_a_named_permanent_error(actions, response_aws, lambda_context):  # noqa: F811
    from anomaly_guardian.response.actions import ActionFailed

    with pytest.raises(ActionFailed, match="unsupported action type 'reboot'"):
        actions.lambda_handler(request(make_anomaly(), "reboot"), lambda_context)
    with pytest.raises(ActionFailed, match="durationMinutes must be between 1 and 43200"):
        actions.lambda_handler(request(make_anomaly(), "rate_limit", durationMinutes=0), lambda_context)
    bad = request(make_anomaly(), "notify")
    bad["anomaly"]["tenantId"] = OTHER
    with pytest.raises(ActionFailed, match="another tenant"):
        actions.lambda_handler(bad, lambda_context)


def test_expired_block_is_lifted_and_live_ones_stay(actions, response_aws, lambda_context, monkeypatch):  # noqa: F811
    # Given acme blocked IP for 1 minute and globex blocked the same IP for an hour, plus a 1-minute flag
    actions.lambda_handler(request(make_anomaly("velocity"), "rate_limit", durationMinutes=1), lambda_context)
    actions.lambda_handler(request(make_anomaly("geolocation"), "step_up_auth", durationMinutes=1), lambda_context)
    shared = "93.184.216.50"
    actions.lambda_handler(
        request(make_anomaly("velocity"), "rate_limit", ip=shared, durationMinutes=1), lambda_context
    )
    actions.lambda_handler(
        request(make_anomaly("velocity", tenant=OTHER), "rate_limit", ip=shared, durationMinutes=60), lambda_context
    )
    assert {f"{IP}/32", f"{shared}/32"} <= response_aws.waf_addresses()
    # When the scheduled sweep runs two minutes later
    expiry = load_handler("block_expiry")
    later = time.time() + 120
    monkeypatch.setattr(time, "time", lambda: later)
    event = json.loads((EVENTS / "eventbridge_scheduled_block_expiry.json").read_text())
    result = expiry.lambda_handler(copy.deepcopy(event), lambda_context)
    # Then acme's expired IP left WAF and the block list, its user block and flag are gone too
    waf = response_aws.waf_addresses()
    assert f"{IP}/32" not in waf
    assert response_aws.items("BLOCKLIST_TABLE", TENANT, "") == []
    # but the shared IP stays in WAF while globex's block is live, and globex's items stay
    assert f"{shared}/32" in waf
    assert {b["sk"] for b in response_aws.items("BLOCKLIST_TABLE", OTHER, "")} == {
        f"IP#{shared}",
        "USER#u_4f1c2a9be07d3c5a18e2b6d0",
    }
    # and the address WAF had with no block behind it was reconciled away
    assert "198.51.100.99/32" not in waf
    assert result == {"expired": 4, "wafRemoved": 2, "ip": 2, "user": 1, "flag": 1}
    lifts = sorted(
        r["action"] for r in response_aws.items("AUDIT_TABLE", TENANT, "AU#") if r["action"].startswith("lift_")
    )
    assert lifts == ["lift_flag", "lift_ip", "lift_ip", "lift_user"]


def test_customer_systems_can_query_what_is_in_force(actions, response_aws, lambda_context):  # noqa: F811
    from api_helpers import apigw_event, parse

    from anomaly_guardian.api import deps

    deps.reset_services()
    pseudonym = deps.current_services().pseudonymiser.user(TENANT, "alice-4711")
    # Given a velocity block and a step-up flag on alice, and a held transaction
    actions.lambda_handler(request(make_anomaly("velocity", user=pseudonym), "rate_limit"), lambda_context)
    actions.lambda_handler(request(make_anomaly("geolocation", user=pseudonym), "step_up_auth"), lambda_context)
    held = make_anomaly("value", user=pseudonym, event={"eventId": "txn-000981", "transactionAmount": 7300.0})
    actions.lambda_handler(request(held, "hold_transaction"), lambda_context)
    api = load_handler("api")
    # When the customer's app asks with the raw user id
    status, body = parse(api.lambda_handler(apigw_event("apigw_get_enforcement_user"), LambdaContext()))
    # Then it sees the block and the step-up requirement (and no monitoring)
    assert status == 200, body
    assert body["userPseudonym"] == pseudonym
    assert body["blocked"]["active"] and body["stepUpRequired"]["active"]
    assert body["enhancedMonitoring"] == {"active": False, "expiresAt": None, "anomalyId": None}
    status, hold = parse(api.lambda_handler(apigw_event("apigw_get_enforcement_hold"), LambdaContext()))
    assert status == 200 and hold["status"] == "HELD" and hold["eventId"] == "txn-000981"
    # and another tenant sees nothing
    status, other = parse(api.lambda_handler(apigw_event("apigw_get_enforcement_user", tenant=OTHER), LambdaContext()))
    assert status == 200 and not other["blocked"]["active"] and not other["stepUpRequired"]["active"]
    assert parse(api.lambda_handler(apigw_event("apigw_get_enforcement_hold", tenant=OTHER), LambdaContext()))[0] == 404
    # and after erasure the user's block and flags are gone
    from anomaly_guardian.adapters.blocklist_admin import BlockListAdmin

    assert BlockListAdmin("test-blocklist").erase_user(TENANT, pseudonym) == 2
    status, body = parse(api.lambda_handler(apigw_event("apigw_get_enforcement_user"), LambdaContext()))
    assert not body["blocked"]["active"] and not body["stepUpRequired"]["active"]


def test_record_step_is_applied_once_even_if_the_workflow_retries_it(actions, response_aws, lambda_context):  # noqa: F811
    a = make_anomaly("velocity")
    response_aws.store_anomaly(a)
    step = {
        "op": "record",
        "tenantId": TENANT,
        "anomaly": a,
        "incidentId": None,
        "results": [{"type": "rate_limit", "status": "done", "dryRun": False, "at": "2026-11-20T23:40:00Z"}],
        "approvedResults": [],
        "reviewOutcome": None,
    }
    first = actions.lambda_handler(step, lambda_context)
    again = actions.lambda_handler(step, lambda_context)
    assert first == {"recorded": 1} and again == {"recorded": 1, "duplicate": True}
    assert len(response_aws.stored_anomaly(TENANT, a["anomalyId"])["actionsPerformed"]) == 1


def test_a_crashed_attempt_blocks_retries_until_its_claim_is_stale(actions, response_aws):  # noqa: F811
    from anomaly_guardian.response.actions import ActionInProgress, execute

    a = make_anomaly("velocity")
    t0 = time.time()
    # Given an attempt that took the claim and died before completing it
    assert actions.ports.audit.claim(TENANT, f"{a['anomalyId']}#notify#live", t0) is None
    # Then a retry shortly after waits (ActionInProgress: the workflow retries it at 30 s, 60 s, ...)
    with pytest.raises(ActionInProgress):
        execute(actions.ports, request(a, "notify"), now=t0 + 10)
    assert response_aws.alerts() == []
    # and once the claim is older than the Lambda timeout the retry takes over and acts, once
    assert execute(actions.ports, request(a, "notify"), now=t0 + 91)["status"] == "done"
    assert execute(actions.ports, request(a, "notify"), now=t0 + 92)["duplicate"] is True
    assert len(response_aws.alerts()) == 1


def test_operators_flip_the_kill_switch_over_the_api_and_it_takes_effect(actions, response_aws, lambda_context):  # noqa: F811
    from api_helpers import apigw_event, parse

    from anomaly_guardian.api import deps

    deps.reset_services()
    api = load_handler("api")
    response_aws.settings(TENANT, retentionNote="kept")  # some other field of the SETTINGS item
    # When an operator turns on acme's kill switch and lowers a cap
    status, body = parse(api.lambda_handler(apigw_event("apigw_patch_response_settings"), LambdaContext()))
    assert status == 200, body
    assert body["killSwitch"] is True and body["actionCaps"]["rate_limit"] == 10
    assert body["actionCaps"]["notify"] == 2000 and body["dryRunActions"] == ["scale"]  # defaults shown
    # Then the next action of acme is skipped, the other fields of the item are kept, and the change is audited
    result = actions.lambda_handler(request(make_anomaly("velocity"), "rate_limit"), lambda_context)
    assert result["reason"] == "kill_switch"
    from anomaly_guardian.adapters.config_repo import ConfigRepository

    assert ConfigRepository("test-config").get_settings(TENANT)["retentionNote"] == "kept"
    changes = [r for r in response_aws.items("AUDIT_TABLE", TENANT, "AU#") if r["action"] == "settings.response"]
    assert changes and changes[0]["changes"] == {"killSwitch": True, "actionCaps": {"rate_limit": 10}}
    # and another tenant's settings are untouched
    status, other = parse(api.lambda_handler(apigw_event("apigw_get_response_settings", tenant=OTHER), LambdaContext()))
    assert status == 200 and other["killSwitch"] is False
    # and bad input is named
    bad = apigw_event("apigw_patch_response_settings", body={"actionCaps": {"reboot": 1}})
    status, err = parse(api.lambda_handler(bad, LambdaContext()))
    assert status == 400 and "actionCaps" in err["message"]


def test_usage_alert_carries_the_dollar_estimate(actions, response_aws, lambda_context):  # noqa: F811
    from anomaly_guardian.pricing import estimate_usage

    estimate = estimate_usage("ec2:RunInstances:g5", {"instanceType": "g5.12xlarge", "awsRegion": "us-east-1"}, 6, 300)
    a = make_anomaly("usage", costEstimate=estimate.as_dict(), event={"eventType": "cloudtrail"})
    assert actions.lambda_handler(request(a, "notify"), lambda_context)["status"] == "done"
    (alert,) = response_aws.alerts()
    assert alert["costEstimate"]["text"] == "about $34.03 per hour, $817 if it runs 24 h"
    assert alert["costEstimate"]["hourly"] == pytest.approx(6 * 5.672)
