"""The labelled generator and the evaluation: consistent labels, contract-valid events, honest scoring."""

from __future__ import annotations

import io
import json

from anomaly_guardian.commands.generate import write_jsonl
from anomaly_guardian.models.event import parse_event
from anomaly_guardian.replay import replay
from anomaly_guardian.scenario.evaluate import score
from anomaly_guardian.scenario.generator import TYPES, generate
from anomaly_guardian.scenario.noisy import evaluate_noisy


def test_given_a_seed_when_generated_twice_then_identical():
    a, b = generate(2000, seed=5), generate(2000, seed=5)
    assert a.events == b.events and a.labels == b.labels


def test_given_a_stream_when_generated_then_labels_are_consistent_and_outside_the_events():
    sc = generate(4000, seed=1)
    ids = [e["eventId"] for e in sc.events]
    assert len(ids) == len(set(ids))
    labelled = {row["eventId"] for row in sc.labels}
    assert labelled <= set(ids) and len(labelled) == len(sc.labels)
    assert {row["label"] for row in sc.labels} == set(TYPES)
    assert all("label" not in e and "episode" not in e for e in sc.events)
    assert [e["timestamp"] for e in sc.events] == sorted(e["timestamp"] for e in sc.events)
    for e in sc.events:
        parse_event(e)  # every event honours the contract
    hard = sc.stats["hardNegatives"]
    assert hard["large_purchase"] > 0 and hard["trip_domestic"] > 0


def test_given_labels_when_scored_then_metrics_follow_the_definitions():
    labels = [
        {"eventId": "a", "label": "value", "episode": "value-1"},
        {"eventId": "b", "label": "velocity", "episode": "velocity-1"},
        {"eventId": "c", "label": "velocity", "episode": "velocity-1"},
    ]
    anomalies = [
        {"anomalyType": "velocity", "originalEvent": {"eventId": "c"}},
        {"anomalyType": "geolocation", "originalEvent": {"eventId": "a"}},
        {"anomalyType": "value", "originalEvent": {"eventId": "z"}},
    ]
    r = score(labels, anomalies, total_events=100)
    assert r.per_type["velocity"].recall == 1.0 and r.per_type["value"].recall == 0.0
    assert r.per_type["value"].precision == 0.0 and r.per_type["geolocation"].precision == 0.0
    assert r.clean_events == 97 and r.clean_flagged == 1


def test_given_a_small_stream_when_replayed_then_every_type_is_found_with_few_false_positives(tmp_path):
    sc = generate(9000, seed=4)
    path = tmp_path / "events.jsonl"
    write_jsonl(str(path), sc.events)
    out = io.StringIO()
    summary = replay(path, out, progress=False, errors=None)
    result = score(sc.labels, [json.loads(x) for x in out.getvalue().splitlines()], summary.events)
    for kind in TYPES:
        assert result.per_type[kind].recall >= 0.85, kind
    assert result.fpr <= 0.001


def test_given_noisy_series_when_evaluated_then_figures_are_sane():
    r = evaluate_noisy(seed=3, series=4)
    assert r.points > 10_000 and sum(r.windows.values()) > 0
    assert r.recall >= 0.6 and r.false_alarms_per_1000 < 1.0


def test_given_noisy_series_when_the_chart_alone_is_evaluated_then_only_its_rules_alarm_and_seeds_report_the_worst():
    from anomaly_guardian.scenario.noisy import format_seeds

    both, chart = evaluate_noisy(seed=3, series=4), evaluate_noisy(seed=3, series=4, chart_only=True)
    assert chart.points == both.points and chart.windows == both.windows
    assert not {"novelty", "likelihood"} & set(chart.false_by_rule)
    other = evaluate_noisy(seed=5, series=4)
    text = format_seeds([(3, both, chart), (5, other, evaluate_noisy(seed=5, series=4, chart_only=True))])
    worst = max((3, both), (5, other), key=lambda x: x[1].false_alarms_per_1000)
    assert f"false alarms {worst[1].false_alarms_per_1000:.2f} per 1,000 points (seed {worst[0]};" in text


def _gap_cv_median(scenario):
    import itertools
    import statistics
    from collections import defaultdict
    from datetime import datetime

    sessions = defaultdict(list)
    for e in scenario.events:
        if e.get("eventType") == "pageview" and e.get("sessionId"):
            sessions[e["sessionId"]].append(datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")).timestamp())
    cvs = []
    for ts in sessions.values():
        gaps = [b - a for a, b in itertools.pairwise(ts)]
        if len(gaps) >= 4 and statistics.mean(gaps) > 0:
            cvs.append(statistics.pstdev(gaps) / statistics.mean(gaps))
    return statistics.median(cvs)


def test_given_populations_when_generated_then_they_differ_as_named():
    from anomaly_guardian.scenario.generator import POPULATIONS

    regular = generate(6000, seed=3, population=POPULATIONS["regular-browsing"])
    irregular = generate(6000, seed=3, population=POPULATIONS["irregular-browsing"])
    assert _gap_cv_median(regular) < _gap_cv_median(generate(6000, seed=3)) < _gap_cv_median(irregular)

    def median_amount(sc):
        amounts = sorted(e["transactionAmount"] for e in sc.events if e.get("eventType") == "transaction")
        return amounts[len(amounts) // 2]

    heavy = generate(6000, seed=3, population=POPULATIONS["heavy-spenders"])
    light = generate(6000, seed=3, population=POPULATIONS["light-spenders"])
    assert median_amount(heavy) > 4 * median_amount(light)
