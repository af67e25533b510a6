"""Live quality per detector: alert rates, analysts' precision, budgets turned into score floors, replays."""

from __future__ import annotations

import pytest

from anomaly_guardian.config import DetectionConfig
from anomaly_guardian.detection.builtin import Override, effective_config
from anomaly_guardian.detection.quality import floor_for_budget, simulate, summarise


def anomaly(detector, score, severity="MEDIUM", label=None):
    a = {"detector": detector, "anomalyType": detector, "anomalyScore": score, "severity": severity}
    if label:
        a["feedback"] = {"label": label}
    return a


def test_given_verdicts_when_summarised_then_precision_per_detector_and_severity_and_the_noisy_one_first():
    items = [
        *(anomaly("system", 0.6, label="false_positive") for _ in range(6)),
        *(anomaly("system", 0.95, "CRITICAL", label="true_positive") for _ in range(2)),
        *(anomaly("value", 0.8, "HIGH", label="true_positive") for _ in range(3)),
        anomaly("value", 0.8, "HIGH"),  # no verdict: counted, not in precision
    ]
    rows = summarise(items, events=20_000, budgets={"system": {"alertBudget": 2.0, "scoreFloor": None}})
    assert [r["detector"] for r in rows] == ["system", "value"]
    system, value = rows
    assert system["precision"] == 0.25 and system["verdicts"] == {"truePositive": 2, "falsePositive": 6}
    assert system["precisionBySeverity"] == {
        "CRITICAL": {"precision": 1.0, "verdicts": 2},
        "MEDIUM": {"precision": 0.0, "verdicts": 6},
    }
    assert system["alertsPer10k"] == 4.0 and system["budget"]["exceeded"] is True
    assert value["precision"] == 1.0 and value["anomalies"] == 4 and value["budget"]["exceeded"] is False


def test_given_no_verdicts_and_no_events_when_summarised_then_precision_and_rate_are_unknown_not_zero():
    (row,) = summarise([anomaly("geolocation", 0.7)], events=0)
    assert row["precision"] is None and row["alertsPer10k"] is None


@pytest.mark.parametrize(
    ("scores", "events", "per_10k", "kept"),
    [
        ([0.9, 0.8, 0.7, 0.6, 0.55], 10_000, 2, 2),  # keep the top two
        ([0.9, 0.7, 0.7, 0.6], 10_000, 2, 1),  # a tie at the cut goes with it: never over budget
        ([0.9, 0.8], 10_000, 5, 2),  # within budget: no floor
        ([0.9, 0.8], 1_000, 5, 0),  # 0.5 alerts allowed on 1,000 events: none
    ],
)
def test_given_a_budget_when_calibrated_then_the_floor_keeps_at_most_the_allowed_alerts(scores, events, per_10k, kept):
    floor = floor_for_budget(scores, events, per_10k)
    remaining = [s for s in scores if floor is None or s >= floor]
    assert len(remaining) == kept
    assert len(remaining) <= per_10k * events / 10_000


def test_given_a_stricter_threshold_when_simulated_then_what_stays_and_its_precision():
    items = [anomaly("system", 0.6, label="false_positive") for _ in range(6)] + [
        anomaly("system", 0.95, "CRITICAL", label="true_positive") for _ in range(2)
    ]
    r = simulate(items, 10_000, threshold=0.9)
    assert r["current"]["alerts"] == 8 and r["simulated"]["alerts"] == 2 and r["removed"] == 6
    assert r["current"]["precision"] == 0.25 and r["simulated"]["precision"] == 1.0
    assert r["simulated"]["alertsPer10k"] == 2.0 and r["lowerBound"] is False


def test_given_a_looser_threshold_than_the_floor_in_force_when_simulated_then_it_says_lower_bound():
    r = simulate([anomaly("system", 0.9)], 10_000, threshold=0.5, current_floor=0.8)
    assert r["lowerBound"] is True


def test_given_both_or_neither_setting_when_simulated_then_refused():
    with pytest.raises(ValueError):
        simulate([], 100)
    with pytest.raises(ValueError):
        simulate([], 100, threshold=0.5, alerts_per_10k=1)


def test_given_a_stored_floor_when_the_config_is_built_then_the_detector_has_it_and_the_defaults_stay():
    cfg = effective_config({"system-check": Override(alertBudget=3.0, scoreFloor=0.72)})
    assert cfg.score_floors == {"system": 0.72}
    assert cfg.system.sigma == DetectionConfig().system.sigma and DetectionConfig().score_floors == {}


def test_given_a_floor_when_the_pipeline_runs_then_findings_below_it_are_not_emitted(harness):
    from anomaly_guardian.detection.system import SystemDetector

    def run(cfg):
        h = harness([SystemDetector()], config=cfg)
        rows = [(i * 60.0, 120 + (i % 7) * 0.5 + (400 if 150 <= i < 160 else 0)) for i in range(200)]
        events = [
            h.event(t, userId="system", eventType="metric", service="api", metricName="p99", metricValue=v)
            for t, v in rows
        ]
        return h.run(events)

    found = run(DetectionConfig())
    assert found
    top = max(a.anomalyScore for a in found)
    strict = DetectionConfig(score_floors={"system": min(1.0, top + 1e-4)})
    assert run(strict) == []
    assert len(run(DetectionConfig(score_floors={"value": 0.99}))) == len(found)  # other detectors' floors
