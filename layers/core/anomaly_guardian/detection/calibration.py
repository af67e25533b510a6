"""Per-tenant calibration: a detector's cut-off follows the tenant's own recent distribution of the statistic.

The fixed seed cut-offs (config.py, or the tenant's built-in rule values) are the cold-start prior. Each
tenant's observations of a statistic go into a compact, mergeable histogram: fixed log-spaced bins, so
merging is adding counts (per day, per writer) and a store can take atomic ADDs from every shard at once
without version conflicts.

Every calibrated statistic is a scale: a population whose typical value is k times that of the people the
seed was set for (`Statistic.prior_median`) produces k times the values in the rule's tail too, so the cut
scales with the tenant's median: cut = seed x median / prior median. The median is robust to the attack
traffic inside the histogram (a few per cent of bots cannot move it; a tail quantile would be set by the
bots themselves), and it is shrunk towards the prior by sample size (`PRIOR_WEIGHT` observations' worth, in
log space), so a young tenant keeps the seed. A rule firing above its cut moves it only for a median more than
`TOLERANCE` above the prior, and then by the excess. The cut only ever moves the way that raises fewer alerts than
the seed (a population more extreme than the generator's does not flood analysts; a tamer one keeps the
seed, the built-in value) and at most by `Statistic.bound` (a metronome script, a crawler, a burst of
requests or a wildly unusual amount is caught in any tenant).

Calibrated statistics (`STATS`; each rule's seed is its config field):
- `session_cv`, timing regularity (`behavioral.regular_cv`): each session's CV at `min_intervals` gaps; the
  rule fires below the cut; never below 0.4 x seed.
- `session_page_rate`, page diversity (`behavioral.max_pages_per_minute`): each session's distinct pages per
  minute once it has `min_intervals` of them; fires above; at most 3 x seed.
- `value_z`, value z (`value.z_threshold`): |z| of every transaction the rule lets pass; at most 1.5 x seed.
- `velocity_user`, velocity (`velocity.max_events_per_user`): a user's peak window count, once per window;
  at most 3 x seed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

BINS = 48
PRIOR_WEIGHT = 200.0  # observations' worth of confidence in the prior median
# Rules firing above their cut move it only for a median more than 10 % above the prior (then by the excess):
# the generator's own populations and seeds differ by a few per cent, which is no reason to move a cut.
TOLERANCE = 1.1


@dataclass(frozen=True)
class Statistic:
    """How one rule's cut-off is calibrated: the histogram's log-spaced range, the median of the population
    the seed was set for, which side the rule fires on (-1: below the cut, +1: above) and how far the cut may
    move (a fraction of the seed for rules firing below, a multiple for rules firing above)."""

    name: str
    section: str
    field: str
    lo: float
    hi: float
    prior_median: float
    fires: int
    bound: float
    integer: bool = False


STATS: dict[str, Statistic] = {
    s.name: s
    for s in (
        # People browse in bursts (lognormal gaps, spread ~0.9: median CV 0.75); scripts tick.
        Statistic("session_cv", "behavioral", "regular_cv", 0.005, 4.0, 0.75, -1, 0.4),
        # Distinct pages per minute of a session once it has `min_intervals` of them: 1.8-1.9 for the
        # generator's readers (seeds 7, 11), whom the seed of 40 was set for.
        Statistic("session_page_rate", "behavioral", "max_pages_per_minute", 0.05, 2000.0, 1.85, +1, 3.0),
        # |z| of log-amounts against the user's profile: 0.71-0.73 for the generator's spenders (a well-specified
        # normal model: 0.674); a population twice as erratic (heavy spenders: 1.5) has twice the tail.
        Statistic("value_z", "value", "z_threshold", 0.005, 100.0, 0.72, +1, 1.5),
        # A user's peak count in the sliding window over each period of one window: 6.2-6.4 on the generator.
        Statistic("velocity_user", "velocity", "max_events_per_user", 0.5, 5000.0, 6.3, +1, 3.0, integer=True),
    )
}
STATISTICS = tuple(STATS)
# The timing-regularity statistic's values, kept as names for the callers written before the others.
LO, HI = STATS["session_cv"].lo, STATS["session_cv"].hi
PRIOR_MEDIAN = STATS["session_cv"].prior_median
FLOOR_FRACTION = STATS["session_cv"].bound


def _range(stat: Statistic | None) -> tuple[float, float]:
    s = stat or STATS["session_cv"]
    return math.log(s.lo), math.log(s.hi) - math.log(s.lo)


def _bin(value: float, log_lo: float, span: float) -> int:
    if value <= 0:
        return 0
    log_v = math.log(value)
    return 0 if log_v <= log_lo else min(BINS - 1, int((log_v - log_lo) / span * BINS))


def bin_of(value: float, stat: Statistic | None = None) -> int:
    return _bin(value, *_range(stat))


def bin_edges(i: int, stat: Statistic | None = None) -> tuple[float, float]:
    log_lo, span = _range(stat)
    return math.exp(log_lo + span * i / BINS), math.exp(log_lo + span * (i + 1) / BINS)


def histogram(values: Iterable[float], stat: Statistic | str | None = None) -> list[int]:
    log_lo, span = _range(STATS[stat] if isinstance(stat, str) else stat)  # once, not per value
    counts = [0] * BINS
    for v in values:
        counts[_bin(v, log_lo, span)] += 1
    return counts


def merge(*hists: Sequence[int]) -> list[int]:
    out = [0] * BINS
    for h in hists:
        for i, c in enumerate(h[:BINS]):
            out[i] += int(c)
    return out


def lower_quantile(counts: Sequence[int], p: float, stat: Statistic | None = None) -> float | None:
    """The p-quantile (interpolated log-linearly inside its bin); None for an empty histogram."""
    total = sum(counts)
    if total <= 0:
        return None
    target = p * total
    seen = 0.0
    for i, c in enumerate(counts):
        if c and seen + c >= target:
            lo, hi = bin_edges(i, stat)
            frac = (target - seen) / c
            return math.exp(math.log(lo) + frac * (math.log(hi) - math.log(lo)))
        seen += c
    return bin_edges(BINS - 1, stat)[1]


def calibrated(counts: Sequence[int] | None, seed: float, stat: Statistic) -> float:
    """The tenant's cut-off for `stat`: the seed scaled by the tenant's median over the prior median (shrunk
    to the prior by sample size), moved only the way that raises fewer alerts and at most by `stat.bound`."""
    n = sum(counts) if counts else 0
    median = lower_quantile(counts, 0.5, stat) if counts and n else None
    if median is None:
        return seed
    log_m = (n * math.log(median) + PRIOR_WEIGHT * math.log(stat.prior_median)) / (n + PRIOR_WEIGHT)
    cut = seed * math.exp(log_m) / stat.prior_median
    if stat.fires < 0:
        return max(stat.bound * seed, min(seed, cut))
    cut = min(stat.bound * seed, max(seed, cut / TOLERANCE))
    return float(math.floor(cut)) if stat.integer else cut


def calibrated_cut(counts: Sequence[int] | None, seed: float) -> float:
    """The timing-regularity CV cut-off (never looser than the seed nor below 0.4 x it)."""
    return calibrated(counts, seed, STATS["session_cv"])


# ---- alert budgets: the floor that keeps a detector within the tenant's budget, re-fitted on live scores
EVENTS = "events"  # the tenant's event count (all in bin 0), beside the score histograms of budgeted detectors
SCORES = Statistic("score", "", "", 0.5, 1.0, 0.75, +1, 1.0)  # bins of finding scores (0.5..1, ~1.5 % wide)
MIN_ALLOWED = 20.0  # alerts the budget allows over the histogram's traffic before the live floor is trusted


def score_statistic(detector: str) -> str:
    return f"score_{detector}"


def events_histogram(n: int) -> list[int]:
    return [n] + [0] * (BINS - 1)


def budget_floor(counts: Sequence[int] | None, events: int, per_10k: float) -> float | None:
    """The lowest score floor (a bin edge) that keeps the findings of `counts` within `per_10k` per 10k of
    `events`: 0.0 when they all fit; None when the traffic is too little to tell (the budget allows fewer than
    MIN_ALLOWED alerts over it: the floor stored when the budget was set stays)."""
    allowed = per_10k * events / 10_000
    if allowed < MIN_ALLOWED:
        return None
    counts = list(counts or [])
    if sum(counts) <= allowed:
        return 0.0
    kept = 0
    for i in range(len(counts) - 1, -1, -1):  # from the top bin down: keep whole bins while they fit
        if kept + counts[i] > allowed:
            return min(1.0, bin_edges(i, SCORES)[1])
        kept += counts[i]
    return 0.0


class CalibrationStore(Protocol):
    def histograms(self, tenant: str, budgets: bool = False) -> dict[str, list[int]]:
        """The tenant's recent histograms by statistic (merged over the store's writers and days); with
        `budgets`, the event count and the detectors' score histograms too (tenants with an alert budget)."""

    def add(self, tenant: str, statistic: str, counts: Sequence[int]) -> None:
        """Add one batch's observations (commutative: concurrent writers never conflict)."""


class InMemoryCalibration:
    """The replay's and the tests' store (the Lambda uses adapters.calibration.DynamoDBCalibration)."""

    def __init__(self) -> None:
        self.data: dict[tuple[str, str], list[int]] = {}

    def histograms(self, tenant: str, budgets: bool = False) -> dict[str, list[int]]:
        return {s: list(h) for (t, s), h in self.data.items() if t == tenant and (budgets or s in STATS)}

    def add(self, tenant: str, statistic: str, counts: Sequence[int]) -> None:
        key = (tenant, statistic)
        self.data[key] = merge(self.data.get(key, [0] * BINS), counts)


__all__ = [
    "BINS",
    "EVENTS",
    "SCORES",
    "STATISTICS",
    "STATS",
    "CalibrationStore",
    "InMemoryCalibration",
    "Statistic",
    "bin_of",
    "budget_floor",
    "calibrated",
    "calibrated_cut",
    "events_histogram",
    "histogram",
    "lower_quantile",
    "merge",
    "score_statistic",
]
