"""Correlation: composite score, the seed's alarm rules, grouping into incidents, summaries."""

from __future__ import annotations

import pytest

from anomaly_guardian.response.correlation import (
    Incident,
    alarm_level,
    anomaly_entities,
    common_cause,
    composite_score,
    correlate,
    pick_incident,
)


def anomaly(aid: str, kind: str, score: float, at: str, user: str = "u_abc", ip: str | None = None, sev: str = "HIGH"):
    entities = {"user": user} | ({"ip": ip} if ip else {})
    return {
        "anomalyId": aid,
        "tenantId": "t1",
        "anomalyType": kind,
        "anomalyScore": score,
        "severity": sev,
        "detectedAt": at,
        "userId": user,
        "entities": entities,
        "originalEvent": {"eventId": f"e-{aid}", "timestamp": at, "eventType": "transaction"},
    }


class TestCompositeScore:
    def test_independent_evidence_accumulates(self):
        # Given three moderate scores, When combined, Then 1 - (0.4^3)
        assert composite_score([0.6, 0.6, 0.6]) == pytest.approx(0.936)

    def test_stronger_than_any_single_member_but_capped(self):
        assert composite_score([0.8, 0.5]) > 0.8
        assert composite_score([1.0, 1.0]) == 0.999

    def test_out_of_range_inputs_are_clamped(self):
        assert composite_score([-3, 0.5]) == 0.5
        assert composite_score([]) == 0.0


class TestAlarmLevel:
    def test_three_consecutive_periods_above_09_is_critical(self):
        assert alarm_level({1: 0.95, 2: 0.91, 3: 0.99}) == "critical"

    def test_two_periods_above_09_is_not_critical(self):
        assert alarm_level({1: 0.95, 2: 0.91}) is None

    def test_gap_breaks_the_run(self):
        # Given a missing period 3, When evaluated, Then no three *consecutive* periods
        assert alarm_level({1: 0.95, 2: 0.95, 4: 0.95}) is None

    def test_five_consecutive_periods_above_07_is_warning(self):
        assert alarm_level([(10, 0.75), (11, 0.8), (12, 0.71), (13, 0.9), (14, 0.72)]) == "warning"

    def test_four_periods_above_07_is_nothing(self):
        assert alarm_level({1: 0.8, 2: 0.8, 3: 0.8, 4: 0.8, 5: 0.6}) is None

    def test_exactly_threshold_does_not_count(self):
        assert alarm_level({1: 0.9, 2: 0.9, 3: 0.9}) is None  # "> 0.9", strictly

    def test_critical_wins_over_an_earlier_warning(self):
        series = {i: 0.8 for i in range(5)} | {5: 0.95, 6: 0.95, 7: 0.95}
        assert alarm_level(series) == "critical"


class TestCorrelate:
    def test_groups_a_users_related_anomalies_into_one_incident(self):
        # Given velocity, geolocation and value anomalies for one user within 12 minutes
        inc = Incident(incidentId="01J000000000000000000000000"[:26], tenantId="t1")
        assert correlate(inc, anomaly("A1", "velocity", 0.7, "2026-01-01T10:00:00Z"), "now")
        candidates = [inc]
        a2 = anomaly("A2", "geolocation", 0.8, "2026-01-01T10:05:00Z")
        joined = pick_incident(candidates, 1767261900.0)
        assert joined is inc
        correlate(inc, a2, "now")
        correlate(inc, anomaly("A3", "value", 0.9, "2026-01-01T10:12:00Z"), "now")
        # Then one incident with a common-cause summary and a composite score
        assert inc.memberCount == 3
        assert inc.summary == (
            "3 anomalies for user u_abc within 12 min: geolocation, value, velocity — likely account takeover"
        )
        assert inc.score == composite_score([0.7, 0.8, 0.9])
        assert inc.severity == "CRITICAL"  # composite 0.994 >= 0.9

    def test_same_anomaly_twice_is_one_member(self):
        inc = Incident(incidentId="I1", tenantId="t1")
        a = anomaly("A1", "velocity", 0.7, "2026-01-01T10:00:00Z")
        assert correlate(inc, a, "now") is True
        assert correlate(inc, a, "now") is False
        assert inc.memberCount == 1

    def test_incident_outside_the_window_is_not_joined(self):
        inc = Incident(incidentId="I1", tenantId="t1", lastSeen=1000.0)
        assert pick_incident([inc], 1000.0 + 31 * 60) is None
        assert pick_incident([inc], 1000.0 + 29 * 60) is inc

    def test_resolved_incident_is_not_joined(self):
        inc = Incident(incidentId="I1", tenantId="t1", lastSeen=1000.0, status="RESOLVED")
        assert pick_incident([inc], 1001.0) is None

    def test_alarm_escalates_severity(self):
        # Given three consecutive minutes each with a >0.9 anomaly (each alone HIGH at most by label)
        inc = Incident(incidentId="I1", tenantId="t1")
        for i, minute in enumerate(("00", "01", "02")):
            correlate(inc, anomaly(f"A{i}", "system", 0.95, f"2026-01-01T10:{minute}:30Z", sev="LOW"), "now")
        assert inc.alarm == "critical"
        assert inc.severity == "CRITICAL"

    def test_severity_never_below_a_member(self):
        inc = Incident(incidentId="I1", tenantId="t1")
        correlate(inc, anomaly("A1", "rule", 0.55, "2026-01-01T10:00:00Z", sev="CRITICAL"), "now")
        assert inc.severity == "CRITICAL"


def test_entities_include_metric_service_and_fall_back_to_user():
    a = {"anomalyId": "x", "userId": "svc", "originalEvent": {"service": "checkout", "metricName": "latency"}}
    assert anomaly_entities(a) == {"service": "checkout/latency"}
    assert anomaly_entities({"userId": "u_1"}) == {"user": "u_1"}


def test_common_cause_prefers_the_most_specific_combination():
    assert common_cause({"velocity", "geolocation", "value"}) == "likely account takeover"
    assert common_cause({"behavioral", "velocity"}) == "likely automated abuse (bot)"
    assert common_cause({"ml"}) == "related anomalies"


def test_period_history_is_bounded_but_alarms_still_work():
    inc = Incident(incidentId="I1", tenantId="t1")
    for i in range(200):  # 200 consecutive minutes of anomalies on one entity
        minute = 1767261600 + i * 60
        at = f"2026-01-01T{minute // 3600 % 24:02d}:{minute // 60 % 60:02d}:10Z"
        correlate(inc, anomaly(f"A{i}", "system", 0.95, at), "now")
    assert len(inc.periods) == 60
    assert inc.alarm == "critical"
