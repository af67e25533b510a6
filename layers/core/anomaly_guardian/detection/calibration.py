"""Per-tenant calibration: a detector's cut-off follows the tenant's own recent distribution of the statistic.

The fixed seed cut-offs (config.py) are the cold-start prior. Each tenant's observations of a statistic
(e.g. the timing regularity of every session that reaches `min_intervals` gaps) go into a compact,
mergeable histogram: fixed log-spaced bins, so merging is adding counts (per day, per writer) and a store
can take atomic ADDs from every shard at once without version conflicts.

Timing regularity is a scale statistic: people whose browsing is more regular than the population the
seed was set for (median CV `PRIOR_MEDIAN`) produce proportionally lower CVs, so the cut scales with the
tenant's median CV: cut = seed x median / PRIOR_MEDIAN. The median is robust to the attack traffic inside
the histogram (a lower-tail quantile would be set by the bots themselves), and it is shrunk towards the
prior by sample size (`PRIOR_WEIGHT` sessions' worth, in log space), so a young tenant keeps the seed.
The cut is only ever made stricter than the seed (a bursty population keeps the seed, the built-in value)
and never below `FLOOR_FRACTION` of it (a script that ticks like a metronome is caught in any tenant).

Statistics calibrated today: `session_cv` (behavioral timing regularity).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Protocol

BINS = 48
LO, HI = 0.005, 4.0  # CV range of the bins (values outside land in the first or last bin)
_LOG_LO, _LOG_SPAN = math.log(LO), math.log(HI) - math.log(LO)
PRIOR_MEDIAN = 0.75  # median session CV of people the seed cut-off was set for (lognormal gaps, spread ~0.9)
PRIOR_WEIGHT = 200.0  # sessions' worth of confidence in the prior median
FLOOR_FRACTION = 0.4
STATISTICS = ("session_cv",)


def bin_of(value: float) -> int:
    if value <= LO:
        return 0
    return min(BINS - 1, int((math.log(value) - _LOG_LO) / _LOG_SPAN * BINS))


def bin_edges(i: int) -> tuple[float, float]:
    return math.exp(_LOG_LO + _LOG_SPAN * i / BINS), math.exp(_LOG_LO + _LOG_SPAN * (i + 1) / BINS)


def histogram(values: Iterable[float]) -> list[int]:
    counts = [0] * BINS
    for v in values:
        counts[bin_of(v)] += 1
    return counts


def merge(*hists: Sequence[int]) -> list[int]:
    out = [0] * BINS
    for h in hists:
        for i, c in enumerate(h[:BINS]):
            out[i] += int(c)
    return out


def lower_quantile(counts: Sequence[int], p: float) -> float | None:
    """The p-quantile (interpolated log-linearly inside its bin); None for an empty histogram."""
    total = sum(counts)
    if total <= 0:
        return None
    target = p * total
    seen = 0.0
    for i, c in enumerate(counts):
        if c and seen + c >= target:
            lo, hi = bin_edges(i)
            frac = (target - seen) / c
            return math.exp(math.log(lo) + frac * (math.log(hi) - math.log(lo)))
        seen += c
    return bin_edges(BINS - 1)[1]


def calibrated_cut(counts: Sequence[int] | None, seed: float) -> float:
    """The tenant's cut-off for the timing-regularity CV: the seed scaled by the tenant's median CV over the
    prior median (shrunk to the prior by sample size), never looser than the seed nor below FLOOR_FRACTION x it."""
    n = sum(counts) if counts else 0
    median = lower_quantile(counts, 0.5) if counts and n else None
    if median is None:
        return seed
    log_m = (n * math.log(median) + PRIOR_WEIGHT * math.log(PRIOR_MEDIAN)) / (n + PRIOR_WEIGHT)
    return max(FLOOR_FRACTION * seed, min(seed, seed * math.exp(log_m) / PRIOR_MEDIAN))


class CalibrationStore(Protocol):
    def histograms(self, tenant: str) -> dict[str, list[int]]:
        """The tenant's recent histograms by statistic (merged over the store's writers and days)."""

    def add(self, tenant: str, statistic: str, counts: Sequence[int]) -> None:
        """Add one batch's observations (commutative: concurrent writers never conflict)."""


class InMemoryCalibration:
    """The replay's and the tests' store (the Lambda uses adapters.calibration.DynamoDBCalibration)."""

    def __init__(self) -> None:
        self.data: dict[tuple[str, str], list[int]] = {}

    def histograms(self, tenant: str) -> dict[str, list[int]]:
        return {s: list(h) for (t, s), h in self.data.items() if t == tenant}

    def add(self, tenant: str, statistic: str, counts: Sequence[int]) -> None:
        key = (tenant, statistic)
        self.data[key] = merge(self.data.get(key, [0] * BINS), counts)


__all__ = [
    "BINS",
    "CalibrationStore",
    "InMemoryCalibration",
    "bin_of",
    "calibrated_cut",
    "histogram",
    "lower_quantile",
    "merge",
]
