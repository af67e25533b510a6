"""GET /detectors, POST /detectors/{id}/simulate, PUT /detectors/{id}/budget through the real API handler
on moto: stored anomalies with verdicts, the detector's hourly counters, the budget on the built-in rule item
and the floor the detector then applies."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from api_helpers import apigw_event, load_handler, parse

from anomaly_guardian.adapters.dynamodb import client
from anomaly_guardian.ids import new_ulid
from anomaly_guardian.models.anomaly import Anomaly

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@pytest.fixture
def api(tables, monkeypatch):
    from anomaly_guardian.api import deps

    key_id = client("kms").create_key(Description="webhook secrets")["KeyMetadata"]["KeyId"]
    monkeypatch.setenv("SECRETS_KMS_KEY_ID", key_id)
    monkeypatch.setenv("GUARDIAN_PSEUDONYM_KEY", "test-pseudonym-key")
    deps.reset_services()
    module = load_handler("api")
    svc = deps.services_from_env()
    module.app.dependency_overrides[deps.current_services] = lambda: svc
    yield module, svc
    deps.reset_services()


@pytest.fixture
def call(api, lambda_context):
    module, _ = api

    def _call(fixture, **kw):
        return parse(module.lambda_handler(apigw_event(fixture, **kw), lambda_context))

    return _call


def store(svc, tenant, rows, minutes_ago=30):
    """rows: (detector, score, severity, label or None); stored `minutes_ago` and later, within the last day."""
    start = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    out = []
    for i, (det, score, severity, _label) in enumerate(rows):
        at = start + timedelta(seconds=i)
        out.append(
            Anomaly(
                anomalyId=new_ulid(int(at.timestamp() * 1000)),
                tenantId=tenant,
                severity=severity,
                anomalyScore=score,
                detectedAt=at.isoformat().replace("+00:00", "Z"),
                userId=f"{det}-entity",
                anomalyType=det,
                detector=det,
                description=f"{det} {i}",
                originalEvent={"eventId": f"{tenant}-{det}-{i}", "timestamp": at.isoformat(), "eventType": "metric"},
            )
        )
    svc.anomalies.put_many(out)
    for a, (_d, _s, _sev, label) in zip(out, rows, strict=True):
        if label:
            svc.anomalies.set_feedback(tenant, a.anomalyId, {"label": label, "submittedBy": "analyst"})
    return out


@pytest.fixture
def traffic(api):
    """acme: 20,000 events in the last hour; system noisy (6 FP MEDIUM, 2 TP CRITICAL), value clean."""
    _, svc = api
    svc.counters.add("acme", datetime.now(UTC), events=20_000, anomalies=0)
    rows = [("system", 0.6 + i / 1000, "MEDIUM", "false_positive") for i in range(6)]
    rows += [("system", 0.95, "CRITICAL", "true_positive")] * 2
    rows += [("value", 0.8, "HIGH", "true_positive")] * 3
    return store(svc, "acme", rows)


def test_given_verdicts_when_listing_detectors_then_the_noisy_one_comes_first_with_its_precision(call, traffic):
    status, body = call("apigw_get_detectors")
    assert status == 200 and body["events"] == 20_000 and body["truncated"] is False
    first, second = body["detectors"][:2]
    assert first["detector"] == "system" and first["precision"] == 0.25
    assert first["precisionBySeverity"]["MEDIUM"] == {"precision": 0.0, "verdicts": 6}
    assert first["alertsPer10k"] == 4.0
    assert second["detector"] == "value" and second["precision"] == 1.0


def test_given_another_tenant_when_listing_detectors_then_it_sees_nothing_of_acme(call, traffic):
    status, body = call("apigw_get_detectors", tenant="globex")
    assert status == 200 and body["detectors"] == [] and body["events"] == 0


def test_given_a_budget_when_simulated_then_the_floor_and_what_would_remain(call, traffic):
    status, body = call("apigw_post_detector_simulate", body={"alertsPer10k": 1})
    assert status == 200
    # 1 per 10k of 20,000 events = 2 alerts: the two CRITICAL true positives stay
    assert body["simulated"]["alerts"] == 2 and body["removed"] == 6
    assert body["simulated"]["precision"] == 1.0 and body["current"]["precision"] == 0.25
    assert 0.605 < body["threshold"] <= 0.95


def test_given_a_budget_when_set_then_stored_on_the_builtin_rule_and_the_detector_applies_the_floor(call, api, traffic):
    _, svc = api
    status, body = call("apigw_put_detector_budget", body={"alertsPer10k": 1})
    assert status == 200 and body["alertsPer10k"] == 1 and 0.605 < body["scoreFloor"] <= 0.95
    stored = svc.config.builtin_overrides("acme")["system-check"]
    assert stored.alertBudget == 1 and stored.scoreFloor == body["scoreFloor"] and stored.version == 1
    # The detector's view of the tenant (same loader as the detector Lambda, uncached)
    from anomaly_guardian.adapters.config_repo import ConfigRepository
    from anomaly_guardian.detection.builtin import effective_config

    cfg = effective_config(ConfigRepository("test-config").builtin_overrides("acme"))
    assert cfg.score_floors == {"system": body["scoreFloor"]}
    # GET /detectors shows the budget; the period's rate (4 per 10k) exceeds it
    _, listed = call("apigw_get_detectors")
    system = next(r for r in listed["detectors"] if r["detector"] == "system")
    assert system["budget"] == {"alertsPer10k": 1.0, "scoreFloor": body["scoreFloor"], "exceeded": True}
    # A threshold change through PUT /rules keeps the budget (the item is updated, not replaced)
    svc.config.put_builtin(
        "acme", "system-check", threshold=4.0, enabled=True, expected_version=1, actor="t", old={"threshold": 3.0}
    )
    after = svc.config.builtin_overrides("acme")["system-check"]
    assert after.threshold == 4.0 and after.version == 2 and after.scoreFloor == body["scoreFloor"]
    # null removes it
    status, body = call("apigw_put_detector_budget", body={"alertsPer10k": None})
    assert status == 200 and body["alertsPer10k"] is None and body["scoreFloor"] is None
    assert effective_config(ConfigRepository("test-config").builtin_overrides("acme")).score_floors == {}


def test_given_a_detector_without_settings_when_setting_a_budget_then_404(call, traffic):
    status, _ = call(
        "apigw_put_detector_budget",
        path_params={"detector": "ml"},
        body={"alertsPer10k": 1},
    )
    assert status == 404


def test_given_both_settings_when_simulating_then_400(call, traffic):
    status, _ = call("apigw_post_detector_simulate", body={"alertsPer10k": 1, "threshold": 0.7})
    assert status == 400


def test_given_a_verdict_when_posted_then_an_emf_verdict_metric_names_detector_severity_and_label(call, api, capsys):
    _, svc = api
    (a,) = store(svc, "acme", [("system", 0.7, "MEDIUM", None)])
    status, _ = call("apigw_post_feedback", path_params={"anomalyId": a.anomalyId})
    assert status == 200
    out = capsys.readouterr().out

    emf = [json.loads(line) for line in out.splitlines() if line.startswith("{") and '"Verdicts"' in line]
    assert emf and emf[0]["detector"] == "system" and emf[0]["severity"] == "MEDIUM"
    assert emf[0]["label"] == "false_positive"
    assert emf[0]["Verdicts"] in (1, 1.0, [1], [1.0])
