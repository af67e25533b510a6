"""Velocity: exact sliding window per user and per IP, reported request rate, one anomaly per burst."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from anomaly_guardian.config import DetectionConfig, VelocityConfig
from anomaly_guardian.detection.velocity import VelocityDetector, window_count


def test_given_101_requests_in_five_minutes_when_detected_then_one_velocity_anomaly_on_the_101st(harness):
    # Given a user sending 101 requests in 200 s from one IP
    h = harness([VelocityDetector()])
    events = [h.event(i * 2.0, eventType="api_request", ipAddress="198.51.100.7") for i in range(101)]
    # When
    anomalies = h.run(events)
    # Then the user and the IP both cross the limit on the 101st event, once each
    assert {a.originalEvent["eventId"] for a in anomalies} == {"e100"}
    assert sorted(a.entities["velocityEntity"] for a in anomalies) == ["ip", "user"]
    a = anomalies[0]
    assert a.anomalyType == "velocity" and 0.7 <= a.anomalyScore <= 1.0
    assert a.explanation[0].observed == 101 and a.explanation[0].expected == 100


def test_given_100_requests_per_window_when_spread_over_time_then_quiet(harness):
    # Given a power user at exactly the limit, twice, in consecutive windows
    h = harness([VelocityDetector()])
    events = [h.event(i * 3.01, eventType="api_request") for i in range(100)]
    events += [h.event(301 + i * 3.01, eventType="api_request") for i in range(100)]
    # When / Then
    assert h.run(events) == []


def test_given_a_long_burst_when_detected_then_cooldown_keeps_it_to_one_anomaly_per_ten_minutes(harness):
    h = harness([VelocityDetector()])
    events = [h.event(i * 1.0, eventType="api_request") for i in range(900)]  # 15 minutes at 1/s
    anomalies = h.run(events)
    assert len(anomalies) == 2  # t=100 s and again after the 600 s cooldown


def test_given_many_accounts_from_one_ip_when_detected_then_ip_velocity(harness):
    h = harness([VelocityDetector()])
    events = [h.event(i, userId=f"victim{i}", eventType="login", ipAddress="203.0.113.9") for i in range(120)]
    anomalies = h.run(events)
    assert [a.entities["velocityEntity"] for a in anomalies] == ["ip"]


def test_given_reported_rps_above_limit_when_detected_then_anomaly_and_below_quiet(harness):
    h = harness([VelocityDetector()])
    assert h.feed([(0, {"eventType": "api_request", "requestsPerSecond": 49.0})]) == []
    found = h.feed([(1, {"eventType": "api_request", "requestsPerSecond": 400.0})])
    assert len(found) == 1 and found[0].explanation[0].feature == "requestsPerSecond"


def test_given_events_across_batches_when_detected_then_state_carries_over(harness):
    h = harness([VelocityDetector()])
    first = h.run([h.event(i, eventType="api_request") for i in range(60)])
    second = h.run([h.event(60 + i, eventType="api_request") for i in range(60)])
    assert first == [] and len(second) == 1


@settings(max_examples=60, deadline=None)
@given(gaps=st.lists(st.floats(min_value=0.0, max_value=20.0), min_size=1, max_size=60), limit=st.integers(1, 12))
def test_property_window_count_matches_brute_force(gaps, limit):
    # Given arbitrary arrival times, the bounded state answers "more than limit in the window" exactly
    state: dict = {}
    times: list[float] = []
    t = 0.0
    for gap in gaps:
        t += gap
        times.append(t)
        count, _ = window_count(state, t, 30.0, limit)
        brute = sum(1 for x in times if x > t - 30.0)
        assert (count > limit) == (brute > limit)
        assert count == min(brute, limit + 1)


def test_given_custom_tenant_limit_when_detected_then_it_applies(harness):
    cfg = DetectionConfig(velocity=VelocityConfig(max_events_per_user=10, max_events_per_ip=1000))
    h = harness([VelocityDetector()], cfg)
    assert len(h.run([h.event(i, eventType="api_request") for i in range(11)])) == 1
