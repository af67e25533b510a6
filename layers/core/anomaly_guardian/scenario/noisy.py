"""NAB-like metric series: the system detector on data noisier than the stream generator makes.

Modelled on what the Numenta Anomaly Benchmark's real series show (CPU, latency, request counts
from monitored systems): 5-minute samples over two weeks, daily cycles of varying strength,
piecewise drift, heavy-tailed noise (Student-t, 2.2-6 degrees of freedom) whose big outliers are
NOT labelled, integer counts, collection gaps. Labelled anomalies: persistent level shifts,
single large spikes, temporary bursts, outages (drop to near zero) and ramps. As in NAB, each
anomaly has a window; an alarm inside the window detects it, an alarm outside any window is a
false positive. The same two members as the detector (`ensemble_update`) are run over each series.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from anomaly_guardian.config import DetectionConfig
from anomaly_guardian.detection.system import SeriesMonitor, ensemble_update

STEP = 300.0
POINTS = 4032  # 14 days of 5-minute samples
WINDOW = 36  # points after the onset in which an alarm counts (3 hours)
KINDS = ("shift", "spike", "burst", "outage", "ramp")


@dataclass
class NoisyResult:
    series: int = 0
    points: int = 0
    windows: dict[str, int] = field(default_factory=dict)
    detected: dict[str, int] = field(default_factory=dict)
    alarms: int = 0
    alarms_in_windows: int = 0
    delays: list[int] = field(default_factory=list)
    false_by_rule: dict[str, int] = field(default_factory=dict)

    @property
    def recall(self) -> float:
        total = sum(self.windows.values())
        return sum(self.detected.values()) / total if total else float("nan")

    @property
    def precision(self) -> float:
        return self.alarms_in_windows / self.alarms if self.alarms else float("nan")

    @property
    def false_alarms_per_1000(self) -> float:
        return 1000.0 * (self.alarms - self.alarms_in_windows) / self.points if self.points else 0.0


def _student(rng: random.Random, df: float) -> float:
    return rng.gauss(0, 1) / math.sqrt(rng.gammavariate(df / 2, 2 / df))


def make_series(rng: random.Random) -> tuple[list[tuple[float, float]], list[tuple[int, str]]]:
    """Points (t, value) with gaps, and labelled anomalies (onset index, kind)."""
    base = math.exp(rng.uniform(math.log(5), math.log(5000)))
    amp = rng.choice((0.0, rng.uniform(0.05, 0.3), rng.uniform(0.3, 0.7)))
    noise = base * rng.uniform(0.02, 0.1)
    df = rng.uniform(2.2, 6.0)
    counts = rng.random() < 0.3
    phase = rng.uniform(0, 2 * math.pi)
    slope_changes = sorted(rng.sample(range(POINTS), 3))
    slopes = [rng.uniform(-0.15, 0.25) * base / POINTS for _ in range(4)]
    gaps: set[int] = set()
    for _ in range(rng.randint(1, 3)):
        g = rng.randrange(400, POINTS - 200)
        gaps.update(range(g, g + rng.choice((rng.randint(2, 10), rng.randint(20, 120)))))
    anomalies: list[tuple[int, str]] = []
    onset = rng.randint(600, 900)
    while onset < POINTS - WINDOW - 10:
        anomalies.append((onset, rng.choice(KINDS)))
        onset += rng.randint(500, 1200)
    shift = 0.0
    values: list[tuple[float, float]] = []
    trend = 0.0
    segment = 0
    effects: dict[int, float] = {}
    scale_mult: dict[int, float] = {}
    for onset, kind in anomalies:
        size = noise * rng.uniform(8, 20) * rng.choice((1, -1) if kind in ("shift", "burst") else (1,))
        if kind == "spike":
            effects[onset] = effects.get(onset, 0) + noise * rng.uniform(15, 40)
        elif kind == "burst":
            for i in range(onset, onset + rng.randint(5, 30)):
                effects[i] = effects.get(i, 0) + size
        elif kind == "ramp":
            length = rng.randint(10, 30)
            for i in range(onset, POINTS):
                effects[i] = effects.get(i, 0) + size * 1.5 * min(1.0, (i - onset + 1) / length)
        elif kind == "outage":
            for i in range(onset, onset + rng.randint(10, 50)):
                scale_mult[i] = rng.uniform(0.0, 0.08)
    shifts = {onset: noise * rng.uniform(8, 20) * rng.choice((1, -1)) for onset, kind in anomalies if kind == "shift"}
    for i in range(POINTS):
        while segment < 3 and i >= slope_changes[segment]:
            segment += 1
        trend += slopes[segment]
        shift += shifts.get(i, 0.0)
        level = base * (1 + amp * math.sin(2 * math.pi * i / 288 + phase)) + trend + shift
        x = level + noise * _student(rng, df) + effects.get(i, 0.0)
        if i in scale_mult:
            x = level * scale_mult[i]
        x = max(0.0, x)
        if counts:
            x = float(round(x))
        if i not in gaps:
            values.append((i * STEP + rng.uniform(0, 5), x))
    return values, anomalies


def evaluate_noisy(
    seed: int = 7, series: int = 40, config: DetectionConfig | None = None, chart_only: bool = False
) -> NoisyResult:
    """Both members over `series` generated series; `chart_only`: the control chart alone (the reference the
    ensemble must not fall behind: docs/evaluation.md)."""
    rng = random.Random(seed * 7919 + 1)
    monitor = SeriesMonitor(config or DetectionConfig())
    result = NoisyResult()
    for _ in range(series):
        points, anomalies = make_series(rng)
        result.series += 1
        result.points += len(points)
        state: dict = {}
        alarm_idx: list[int] = []
        for t, x in points:
            if chart_only:
                rule = monitor.update(state, t, x)
                found = (rule, None) if rule is not None else None
            else:
                found = ensemble_update(monitor, state, t, x)
            if found is not None:
                alarm = found[0]
                i = int(t // STEP)
                alarm_idx.append(i)
                if not any(o <= i < o + WINDOW for o, _ in anomalies):
                    result.false_by_rule[alarm[0]] = result.false_by_rule.get(alarm[0], 0) + 1
        for onset, kind in anomalies:
            result.windows[kind] = result.windows.get(kind, 0) + 1
            hits = [a for a in alarm_idx if onset <= a < onset + WINDOW]
            if hits:
                result.detected[kind] = result.detected.get(kind, 0) + 1
                result.delays.append(hits[0] - onset)
        result.alarms += len(alarm_idx)
        result.alarms_in_windows += sum(1 for a in alarm_idx if any(o <= a < o + WINDOW for o, _ in anomalies))
    return result


def format_seeds(rows: list[tuple[int, NoisyResult, NoisyResult]]) -> str:
    """One line per seed (the ensemble beside the control chart alone), then the worst seed of each figure."""
    out = [f"{'seed':>6} {'windows':>9} {'false/1k':>9} {'precision':>9}   control chart alone: windows, false/1k"]
    for seed, r, chart in rows:
        out.append(
            f"{seed:>6} {sum(r.detected.values()):>4}/{sum(r.windows.values()):<4} {r.false_alarms_per_1000:>9.2f} "
            f"{r.precision:>9.3f}   {sum(chart.detected.values())}/{sum(chart.windows.values())}, "
            f"{chart.false_alarms_per_1000:.2f}"
        )
    worst_fa = max(rows, key=lambda x: x[1].false_alarms_per_1000)
    worst_recall = min(rows, key=lambda x: x[1].recall)
    out.append(
        f"worst seed: false alarms {worst_fa[1].false_alarms_per_1000:.2f} per 1,000 points (seed {worst_fa[0]}; "
        f"chart alone {max(c.false_alarms_per_1000 for _, _, c in rows):.2f}), recall {worst_recall[1].recall:.3f} "
        f"(seed {worst_recall[0]}; chart alone {min(c.recall for _, _, c in rows):.3f})"
    )
    return "\n".join(out)


def format_noisy(r: NoisyResult) -> str:
    per_kind = ", ".join(f"{k} {r.detected.get(k, 0)}/{r.windows.get(k, 0)}" for k in KINDS)
    delays = sorted(r.delays)
    median = delays[len(delays) // 2] if delays else float("nan")
    return "\n".join(
        [
            f"{r.series} series, {r.points:,} points (5-min samples, 14 days each, heavy-tailed noise, gaps)",
            f"anomaly windows detected: {sum(r.detected.values())}/{sum(r.windows.values())} "
            f"(recall {r.recall:.3f}); by kind: {per_kind}",
            f"alarms: {r.alarms} (precision {r.precision:.3f}); false alarms per 1,000 points: "
            f"{r.false_alarms_per_1000:.2f} (by rule: {r.false_by_rule}); median detection delay: {median} points",
        ]
    )
