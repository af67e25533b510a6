"""Per-tenant calibration of the timing-regularity cut-off: sample size, robustness to bots, bounds."""

from __future__ import annotations

import random

from anomaly_guardian.detection.calibration import (
    PRIOR_MEDIAN,
    InMemoryCalibration,
    calibrated_cut,
    histogram,
    lower_quantile,
    merge,
)

SEED = 0.2


def cvs(n, median, spread=0.3, seed=1):
    rng = random.Random(seed)
    return [median * rng.lognormvariate(0, spread) for _ in range(n)]


def test_given_no_or_few_sessions_when_calibrated_then_the_seed_prior_holds_or_barely_moves():
    assert calibrated_cut(None, SEED) == SEED
    assert calibrated_cut(histogram([]), SEED) == SEED
    few = calibrated_cut(histogram(cvs(20, 0.3)), SEED)  # 20 very regular sessions: mostly prior
    assert 0.17 < few < SEED


def test_given_more_sessions_of_a_regular_population_when_calibrated_then_the_cut_tightens_with_sample_size():
    cuts = [calibrated_cut(histogram(cvs(n, 0.3)), SEED) for n in (50, 200, 1000, 10_000)]
    assert cuts == sorted(cuts, reverse=True)  # more evidence, closer to the tenant's own scale
    assert abs(cuts[-1] - SEED * 0.3 / PRIOR_MEDIAN) < 0.01


def test_given_a_bursty_population_when_calibrated_then_never_looser_than_the_seed():
    assert calibrated_cut(histogram(cvs(5000, 1.1)), SEED) == SEED


def test_given_a_very_regular_population_when_calibrated_then_the_floor_keeps_scripts_caught():
    cut = calibrated_cut(histogram(cvs(5000, 0.05)), SEED)
    assert cut == 0.4 * SEED and cut > 0.05  # a metronome script (CV ~0.05) stays below it


def test_given_bots_in_the_traffic_when_calibrated_then_the_median_ignores_them():
    people = cvs(2000, 0.3)
    with_bots = people + [0.04] * 100  # 5 % scripted sessions
    a = calibrated_cut(histogram(people), SEED)
    b = calibrated_cut(histogram(with_bots), SEED)
    assert abs(a - b) < 0.01


def test_given_histograms_of_two_writers_when_merged_then_as_if_one():
    x, y = cvs(300, 0.5, seed=2), cvs(500, 0.4, seed=3)
    assert merge(histogram(x), histogram(y)) == histogram(x + y)
    store = InMemoryCalibration()
    store.add("t", "session_cv", histogram(x))
    store.add("t", "session_cv", histogram(y))
    assert store.histograms("t")["session_cv"] == histogram(x + y) and store.histograms("other") == {}
    q = lower_quantile(histogram(x + y), 0.5)
    assert 0.35 < q < 0.55
