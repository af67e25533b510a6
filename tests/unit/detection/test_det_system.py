"""System: SPC per series that follows daily cycles, flags shifts fast, once per episode."""

from __future__ import annotations

import math
import random

from anomaly_guardian.config import DetectionConfig
from anomaly_guardian.detection.system import SeriesMonitor, SystemDetector


def series(n, rng, base=100.0, amp=0.3, noise=2.0, start=0):
    for i in range(start, start + n):
        level = base * (1 + amp * math.sin(2 * math.pi * i / 1440))
        yield i * 60.0, level + rng.gauss(0, noise)


def alarms(points):
    mon = SeriesMonitor(DetectionConfig())
    state: dict = {}
    return [(int(t // 60), r) for t, x in points if (r := mon.update(state, t, x)) is not None]


def test_given_three_days_of_daily_cycle_and_noise_when_monitored_then_no_alarm():
    rng = random.Random(1)
    assert alarms(series(3 * 1440, rng)) == []


def test_given_a_level_shift_when_monitored_then_one_alarm_within_three_points():
    rng = random.Random(2)
    pts = list(series(2000, rng))
    pts = [(t, x + (40.0 if 1500 <= i < 1530 else 0.0)) for i, (t, x) in enumerate(pts)]
    found = alarms(pts)
    assert len(found) == 1
    minute, (_rule, z, expected, _sigma, _stat) = found[0]
    assert 1500 <= minute <= 1502 and z > 0 and expected < 200


def test_given_a_persistent_shift_when_monitored_then_one_alarm_and_the_new_level_becomes_normal():
    rng = random.Random(3)
    pts = [(t, x + (30.0 if i >= 1500 else 0.0)) for i, (t, x) in enumerate(series(3000, rng))]
    assert [m for m, _ in alarms(pts)] == [1500] or len(alarms(pts)) == 1


def test_given_a_single_huge_spike_when_monitored_then_one_spike_alarm():
    rng = random.Random(4)
    pts = [(t, x + (500.0 if i == 1200 else 0.0)) for i, (t, x) in enumerate(series(1600, rng))]
    found = alarms(pts)
    assert [(m, r[0]) for m, r in found] == [(1200, "spike")]


def test_given_collection_gaps_when_monitored_then_no_alarm():
    rng = random.Random(5)
    pts = [p for i, p in enumerate(series(3000, rng)) if not (800 <= i < 820 or 2000 <= i < 2200)]
    assert alarms(pts) == []


def test_given_heavy_tailed_noise_when_monitored_then_few_false_alarms():
    rng = random.Random(6)
    pts = []
    for i in range(5000):
        tnoise = rng.gauss(0, 1) / math.sqrt(rng.gammavariate(1.5, 2 / 3))  # Student-t, 3 dof
        pts.append((i * 60.0, 100 + 20 * math.sin(2 * math.pi * i / 1440) + 2 * tnoise))
    assert len(alarms(pts)) <= 2  # <= 0.4 per 1,000 points


def test_given_metric_events_when_detected_then_system_anomaly_names_the_service(harness):
    h = harness([SystemDetector()])
    rng = random.Random(7)
    rows = []
    for i in range(200):
        value = 120 + rng.gauss(0, 3) + (200 if 150 <= i < 160 else 0)
        rows.append(
            (
                i * 60.0,
                {
                    "userId": "system",
                    "eventType": "metric",
                    "service": "checkout",
                    "metricName": "latency_ms",
                    "metricValue": value,
                },
            )
        )
    found = h.run([h.event(t, **f) for t, f in rows])
    assert len(found) == 1
    a = found[0]
    assert a.anomalyType == "system" and a.userId == "checkout/latency_ms"
    assert a.explanation[0].feature == "latency_ms" and a.explanation[0].observed > a.explanation[0].expected
