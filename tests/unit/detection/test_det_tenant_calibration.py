"""Per-tenant calibration of the upper-tail cut-offs (page diversity, value z, velocity): sample size, one
direction only (fewer alerts), bounds, robustness to attacks, and the rules' behaviour on a calibrated tenant."""

from __future__ import annotations

import random

import pytest

from anomaly_guardian.config import DetectionConfig
from anomaly_guardian.detection.behavioral import BehavioralDetector
from anomaly_guardian.detection.calibration import (
    STATS,
    TOLERANCE,
    InMemoryCalibration,
    calibrated,
    histogram,
    merge,
)
from anomaly_guardian.detection.value import ValueDetector
from anomaly_guardian.detection.velocity import VelocityDetector

UPPER = ("session_page_rate", "value_z", "velocity_user")


def sample(n, median, spread=0.4, seed=1):
    rng = random.Random(seed)
    return [median * rng.lognormvariate(0, spread) for _ in range(n)]


def seed_of(name):
    stat = STATS[name]
    return getattr(getattr(DetectionConfig(), stat.section), stat.field)


@pytest.mark.parametrize("name", UPPER)
def test_given_no_or_few_observations_when_calibrated_then_the_seed_prior_holds_or_barely_moves(name):
    stat, seed = STATS[name], seed_of(name)
    assert calibrated(None, seed, stat) == seed
    assert calibrated(histogram([], stat), seed, stat) == seed
    few = calibrated(histogram(sample(20, 2 * stat.prior_median), stat), seed, stat)  # a busier tenant, 20 values
    assert seed <= few < 1.15 * seed


@pytest.mark.parametrize("name", UPPER)
def test_given_more_observations_of_a_busier_population_when_calibrated_then_the_cut_follows_its_scale(name):
    stat, seed = STATS[name], seed_of(name)
    cuts = [
        calibrated(histogram(sample(n, 1.4 * stat.prior_median), stat), seed, stat) for n in (50, 200, 1000, 20_000)
    ]
    assert cuts == sorted(cuts) and cuts[0] < cuts[-1]  # more evidence, closer to the tenant's own scale
    assert abs(cuts[-1] - 1.4 / TOLERANCE * seed) <= 0.04 * seed + (1 if stat.integer else 0)


@pytest.mark.parametrize("name", UPPER)
def test_given_a_population_within_the_tolerance_of_the_prior_when_calibrated_then_the_seed_stays(name):
    stat, seed = STATS[name], seed_of(name)
    assert calibrated(histogram(sample(20_000, 1.05 * stat.prior_median), stat), seed, stat) == seed


@pytest.mark.parametrize("name", UPPER)
def test_given_a_tamer_population_when_calibrated_then_never_more_sensitive_than_the_seed(name):
    stat, seed = STATS[name], seed_of(name)
    assert calibrated(histogram(sample(5000, 0.3 * stat.prior_median), stat), seed, stat) == seed


@pytest.mark.parametrize("name", UPPER)
def test_given_a_wildly_busier_population_when_calibrated_then_the_bound_caps_the_cut(name):
    stat, seed = STATS[name], seed_of(name)
    assert calibrated(histogram(sample(5000, 20 * stat.prior_median), stat), seed, stat) == stat.bound * seed


@pytest.mark.parametrize("name", UPPER)
def test_given_attacks_in_the_traffic_when_calibrated_then_the_median_ignores_them(name):
    stat, seed = STATS[name], seed_of(name)
    people = sample(2000, 1.5 * stat.prior_median)
    attacks = [50 * stat.prior_median] * 100  # 5 % of the observations far in the tail
    a = calibrated(histogram(people, stat), seed, stat)
    b = calibrated(histogram(people + attacks, stat), seed, stat)
    assert abs(a - b) <= 0.05 * seed + (1 if stat.integer else 0)


def test_given_two_writers_when_their_histograms_merge_then_as_if_one_for_every_statistic():
    for name, stat in STATS.items():
        x, y = sample(300, stat.prior_median, seed=2), sample(500, stat.prior_median, seed=3)
        assert merge(histogram(x, stat), histogram(y, stat)) == histogram(x + y, name)


def test_given_a_stream_when_processed_then_every_calibrated_statistic_is_observed(harness):
    # Given: a session of 9 pageviews over distinct pages, with purchases, one user
    h = harness([BehavioralDetector(), ValueDetector(), VelocityDetector()])
    rows = [(30.0 * i, {"metadata": {"page": f"/p{i}"}}) for i in range(10)]
    rows += [(400.0 + i, {"eventType": "purchase", "transactionAmount": 40.0 + i}) for i in range(5)]
    h.feed(rows)
    # Then: the tenant's histograms hold each statistic (one page rate per session, a z per transaction, the
    # user's peak window count of the first 5 minutes, observed when the purchases came after them)
    hist = h.pipeline.calibration.histograms("t1")
    assert set(hist) == set(STATS)
    assert sum(hist["session_page_rate"]) == 1 and sum(hist["value_z"]) == 5 and sum(hist["velocity_user"]) == 1


def test_given_one_users_burst_in_a_young_tenant_when_calibrated_then_it_does_not_loosen_its_own_limit(harness):
    # Given: a tenant's only user sends 60 events in a minute, then 60 more (the seed limit is 100 per 5 minutes)
    h = harness([VelocityDetector()])
    first = h.run([h.event(i, eventType="api_request") for i in range(60)])
    second = h.run([h.event(60 + i, eventType="api_request") for i in range(60)])
    # Then: the burst is one observation, the limit stays the seed's, and the burst is flagged
    assert first == [] and len(second) == 1
    assert sum(h.pipeline.calibration.histograms("t1").get("velocity_user", [])) <= 1


# ---- the rules on a calibrated tenant


def calibration_with(name, values):
    cal = InMemoryCalibration()
    cal.add("t1", name, histogram(values, name))
    return cal


def test_given_a_tenant_of_fast_browsers_when_calibrated_then_their_sessions_pass_and_a_crawler_does_not(harness):
    def run(calibration):
        h = harness([BehavioralDetector()])
        h.pipeline.calibration = calibration
        # a person on a catalogue: 12 distinct pages in 12 s (60 per minute), bursty gaps
        gaps = [0.3, 2.1, 0.4, 1.9, 0.2, 1.6, 0.5, 1.8, 0.3, 1.7, 0.6, 0.6]
        t, person = 0.0, []
        for i, g in enumerate(gaps):
            t += g
            person.append(h.event(t, userId="p", sessionId="sp", metadata={"page": f"/c/{i}"}))
        # a crawler: 12 distinct pages in 3 s (240 per minute), as bursty
        crawler = [
            h.event(5000 + g / 4 + i * 0.01, userId="c", sessionId="sc", metadata={"page": f"/x/{i}"})
            for i, g in enumerate(gaps)
        ]
        return len(h.run(person)), len(h.run(crawler))

    # Uncalibrated (a new tenant): the fast person is flagged with the crawler
    assert run(InMemoryCalibration()) == (1, 1)
    # A tenant whose 2,000 sessions browse at a median 5 distinct pages a minute: the cut is ~95 per minute
    assert run(calibration_with("session_page_rate", sample(2000, 5.0))) == (0, 1)


def test_given_a_tenant_of_erratic_spenders_when_calibrated_then_a_moderate_outlier_passes_and_a_wild_one_does_not(
    harness,
):
    def run(calibration, amount):
        h = harness([ValueDetector()])
        h.pipeline.calibration = calibration
        rng = random.Random(4)
        history = [
            (60.0 * i, {"eventType": "purchase", "transactionAmount": 80 * rng.lognormvariate(0, 0.3)})
            for i in range(30)
        ]
        h.feed(history)
        return h.run([h.event(5000.0, eventType="purchase", transactionAmount=amount)])

    seeded = run(InMemoryCalibration(), 470.0)
    assert len(seeded) == 1  # the seed cut (z 4.5) flags it
    z = next(x.observed for x in seeded[0].explanation if x.feature == "log_transaction_amount_z")
    assert 4.5 < z < 6.0
    # A tenant whose transactions' |z| has a median of 1.3 (the model's scale is too tight for them): cut ~6.75
    erratic = calibration_with("value_z", sample(3000, 1.3, spread=0.8))
    assert run(erratic, 470.0) == []
    assert len(run(erratic, 1200.0)) == 1  # z ~9: beyond the bounded cut of 1.5 x the seed


def test_given_a_tenant_of_busy_users_when_calibrated_then_a_busy_burst_passes_and_a_flood_does_not(harness):
    def run(calibration, events, span):
        h = harness([VelocityDetector()])
        h.pipeline.calibration = calibration
        return h.run([h.event(span * i / events, userId="u", eventType="api_request") for i in range(events)])

    assert len(run(InMemoryCalibration(), 150, 240.0)) == 1  # seed: more than 100 in 5 minutes
    # A tenant whose users peak at a median 12 events in the window (10,000 observations): limit ~170
    busy = calibration_with("velocity_user", sample(10_000, 12.0))
    assert run(busy, 150, 240.0) == []
    assert len(run(busy, 400, 240.0)) == 1  # beyond the bound (3 x 100) whatever the tenant


# ---- alert budgets re-fitted on live scores


def test_given_scores_and_traffic_when_a_budget_floor_is_fitted_then_the_kept_alerts_fit_or_it_waits_for_traffic():
    from anomaly_guardian.detection.calibration import SCORES, budget_floor

    rng = random.Random(9)
    scores = [0.5 + 0.5 * rng.random() ** 2 for _ in range(1000)]  # 1,000 findings over 100,000 events
    hist = histogram(scores, SCORES)
    floor = budget_floor(hist, 100_000, 30.0)  # at most 300 alerts
    kept = sum(s >= floor for s in scores)
    assert 0.5 < floor < 1.0 and 240 <= kept <= 300  # whole bins: at most one bin's worth under the budget
    assert budget_floor(hist, 100_000, 200.0) == 0.0  # all 1,000 fit in 2,000
    assert budget_floor(hist, 5_000, 30.0) is None  # 15 allowed alerts: too little traffic to re-fit


def test_given_a_budget_when_traffic_flows_then_the_pipeline_refits_the_floor_to_the_tenants_own_scores(harness):
    from anomaly_guardian.detection.builtin import Override, effective_config
    from anomaly_guardian.detection.calibration import score_statistic

    # Given: a tenant whose value detector fires on about 1 in 40 purchases, and a budget of 50 alerts per 10k
    # events set with a stale floor (0.55, calibrated on a quieter day)
    cfg = effective_config({"value-check": Override(alertBudget=50.0, scoreFloor=0.55)})
    assert cfg.alert_budgets == {"value": 50.0} and cfg.score_floors == {"value": 0.55}
    h = harness([ValueDetector()], cfg)
    rng = random.Random(3)

    def batch(start, n=2000):
        rows = []
        for i in range(start, start + n):
            amount = 40.0 * rng.lognormvariate(0, 0.2)
            if i >= 4000 and rng.random() < 1 / 40:
                amount *= rng.uniform(10, 110)  # far out for the user (below the absolute limit): a z finding
            rows.append(h.event(i * 10.0, userId=f"u{i % 200}", eventType="purchase", transactionAmount=amount))
        return h.run(rows)

    def floor():
        return h.pipeline._calibrated("t1", cfg).score_floors["value"]

    # When: 2,000 events (the budget allows 10 alerts over them: too little to re-fit); Then: the stored floor
    batch(0)
    assert floor() == 0.55
    # When: traffic with findings flows (20,000 events in all)
    for k in range(1, 9):
        batch(2000 * k)
    raw_before = sum(h.pipeline.calibration.histograms("t1", budgets=True)[score_statistic("value")])
    later = batch(18_000)
    raw = sum(h.pipeline.calibration.histograms("t1", budgets=True)[score_statistic("value")]) - raw_before
    # Then: the floor follows the tenant's scores and the alerts of a 2,000-event batch are back near the
    # budget (10), from the ~50 findings the stale floor let through
    assert floor() > 0.55 and raw > 30
    assert 3 <= len(later) <= 14
