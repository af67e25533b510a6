"""Per-tenant calibration histograms in the State table on moto: concurrent writers add without conflict,
reads merge the days, the detector pipeline uses the calibrated cut."""

from __future__ import annotations

import random

from anomaly_guardian.adapters.calibration import CACHE_SECONDS, DynamoDBCalibration, calibration_key
from anomaly_guardian.adapters.dynamodb import client
from anomaly_guardian.detection.calibration import calibrated_cut, histogram


def cvs(n, median, seed):
    rng = random.Random(seed)
    return [median * rng.lognormvariate(0, 0.3) for _ in range(n)]


def test_given_two_shards_writing_the_same_tenant_when_read_then_the_counts_add_up(tables):
    clock = [1_800_000_000.0]
    a = DynamoDBCalibration("test-state", clock=lambda: clock[0])  # two containers (two shards)
    b = DynamoDBCalibration("test-state", clock=lambda: clock[0])
    x, y = cvs(400, 0.3, 1), cvs(600, 0.3, 2)
    a.add("acme", "session_cv", histogram(x))
    b.add("acme", "session_cv", histogram(y))
    b.add("acme", "session_cv", histogram(y))  # a redelivered batch is counted again: a calibration, not a ledger
    reader = DynamoDBCalibration("test-state", clock=lambda: clock[0])
    assert reader.histograms("acme")["session_cv"] == histogram(x + y + y)
    assert reader.histograms("globex") == {}


def test_given_days_of_history_when_read_then_the_window_is_merged_and_older_days_drop_out(tables):
    clock = [1_800_000_000.0]
    store = DynamoDBCalibration("test-state", clock=lambda: clock[0])
    store.add("acme", "session_cv", histogram(cvs(100, 0.3, 3)))
    clock[0] += 3 * 86400
    store.add("acme", "session_cv", histogram(cvs(100, 0.3, 4)))
    fresh = DynamoDBCalibration("test-state", clock=lambda: clock[0])
    assert sum(fresh.histograms("acme")["session_cv"]) == 200
    clock[0] += 5 * 86400  # the first day is now 8 days old
    later = DynamoDBCalibration("test-state", clock=lambda: clock[0])
    assert sum(later.histograms("acme")["session_cv"]) == 100
    item = client("dynamodb").get_item(
        TableName=store.table, Key={"pk": {"S": calibration_key("acme", "session_cv", store._now())}}
    )
    assert "Item" not in item or "ttl" in item["Item"]


def test_given_a_cached_read_when_the_container_adds_then_it_sees_its_own_additions(tables):
    clock = [1_800_000_000.0]
    store = DynamoDBCalibration("test-state", clock=lambda: clock[0])
    assert store.histograms("acme") == {}
    store.add("acme", "session_cv", histogram(cvs(3000, 0.3, 5)))
    assert sum(store.histograms("acme")["session_cv"]) == 3000  # cache updated, no re-read
    assert calibrated_cut(store.histograms("acme")["session_cv"], 0.2) < 0.1
    clock[0] += CACHE_SECONDS + 1
    assert sum(store.histograms("acme")["session_cv"]) == 3000


def test_given_the_table_is_unreachable_when_used_then_detection_goes_on_with_the_seed(aws, monkeypatch):
    monkeypatch.setenv("STATE_TABLE", "no-such-table")
    store = DynamoDBCalibration("test-state")
    store.add("acme", "session_cv", histogram([0.3] * 10))  # logged, not raised
    assert store.histograms("acme") == {}


def test_given_every_statistic_and_a_budgets_scores_when_stored_then_a_fresh_reader_gets_them_all(tables):
    # Given: the four cut-off statistics, the event count and the system detector's scores (alert budget)
    from anomaly_guardian.detection.calibration import EVENTS, SCORES, STATS, events_histogram, score_statistic

    clock = [1_800_000_000.0]
    store = DynamoDBCalibration("test-state", clock=lambda: clock[0])
    for name, stat in STATS.items():
        store.add("acme", name, histogram(cvs(50, stat.prior_median, 6), stat))
    store.add("acme", EVENTS, events_histogram(12_000))
    store.add("acme", EVENTS, events_histogram(3_000))
    store.add("acme", score_statistic("system"), histogram([0.6, 0.7, 0.99], SCORES))
    # When: another container reads the tenant, as for a tenant with an alert budget (12 statistics x 7 days)
    reader = DynamoDBCalibration("test-state", clock=lambda: clock[0])
    got = reader.histograms("acme", budgets=True)
    # Then: everything is there, merged; without a budget only the cut-off statistics are read
    assert set(got) == {*STATS, EVENTS, score_statistic("system")}
    assert set(reader.histograms("acme")) == set(STATS)
    assert sum(got[EVENTS]) == 15_000 and sum(got[score_statistic("system")]) == 3
    assert all(sum(got[name]) == 50 for name in STATS)
