"""Scoring the system detector on labelled metric series from disk (NAB format), e.g. real CPU,
latency or request-count series with labelled incidents. Data-agnostic: nothing here knows NAB.

Input: a directory of CSV files (`timestamp,value` header, one point per row) and a windows JSON
mapping a series' path relative to the directory (or its file name) to `[[start, end], ...]`.
Each point becomes a metric event and goes through `SystemDetector.detect`, exactly as the
detector pipeline sees it. Scoring (NAB-like):
- a window is *detected* if an alarm falls inside it, or up to `tolerance` points before it;
- an alarm outside every (tolerance-widened) window is a false alarm;
- delay = points from the window start to the first alarm (negative: before the window).
NAB centres each window on the labelled point, so an alarm in the first half is before the label
(NAB rewards that "early detection"); the share of such detections is reported.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

from anomaly_guardian.config import DetectionConfig
from anomaly_guardian.detection.base import PreparedEvent
from anomaly_guardian.detection.system import SystemDetector, series_key
from anomaly_guardian.models.event import Event
from anomaly_guardian.state.store import StateItem

TENANT = "eval"
DEFAULT_TOLERANCE = 6  # points before a window in which an alarm still counts (30 minutes at 5-min samples)


class MetricsDataError(ValueError):
    """A CSV or windows file that cannot be read; the message names the file and the problem."""


@dataclass
class SeriesScore:
    name: str
    points: int = 0
    windows: int = 0
    detected: int = 0
    alarms: int = 0
    false_alarms: int = 0
    delays: list[int] = field(default_factory=list)
    early: int = 0  # detections before the middle of their window (before the labelled point in NAB)
    rules: dict[str, int] = field(default_factory=dict)

    @property
    def false_per_1000(self) -> float:
        return 1000.0 * self.false_alarms / self.points if self.points else 0.0


def _parse_time(text: str, where: str) -> float:
    try:
        ts = datetime.fromisoformat(text.strip())
    except ValueError:
        raise MetricsDataError(f"{where}: timestamp {text!r} is not ISO 8601 (e.g. 2014-02-14 14:30:00)") from None
    return (ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts).timestamp()


def read_series(path: Path) -> list[tuple[float, float]]:
    """(epoch seconds, value) rows in file order. Naive timestamps are UTC."""
    points: list[tuple[float, float]] = []
    with path.open(encoding="utf-8", newline="") as f:
        rows = csv.reader(f)
        header = next(rows, None)
        if header is None or [h.strip().lower() for h in header[:2]] != ["timestamp", "value"]:
            raise MetricsDataError(f"{path}: the first line must be the header 'timestamp,value'")
        for number, row in enumerate(rows, start=2):
            if not row:
                continue
            if len(row) < 2:
                raise MetricsDataError(f"{path}:{number}: expected 'timestamp,value', got {row!r}")
            t = _parse_time(row[0], f"{path}:{number}")
            try:
                x = float(row[1])
            except ValueError:
                raise MetricsDataError(f"{path}:{number}: value {row[1]!r} is not a number") from None
            if not math.isfinite(x):
                raise MetricsDataError(f"{path}:{number}: value {row[1]!r} is not finite")
            points.append((t, x))
    if not points:
        raise MetricsDataError(f"{path}: no data rows")
    return points


def read_windows(path: Path) -> dict[str, list[tuple[float, float]]]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise MetricsDataError(f"{path}: cannot read the windows JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise MetricsDataError(f"{path}: expected an object mapping series to [[start, end], ...]")
    windows: dict[str, list[tuple[float, float]]] = {}
    for name, pairs in raw.items():
        if not isinstance(pairs, list) or any(not isinstance(p, list) or len(p) != 2 for p in pairs):
            raise MetricsDataError(f"{path}: windows of {name!r} must be a list of [start, end] pairs")
        spans = [(_parse_time(a, f"{path} {name}"), _parse_time(b, f"{path} {name}")) for a, b in pairs]
        for a, b in spans:
            if b < a:
                raise MetricsDataError(f"{path}: a window of {name!r} ends before it starts")
        windows[name] = spans
    return windows


def run_detector(points: list[tuple[float, float]], config: DetectionConfig, name: str = "series") -> list[tuple]:
    """Feed the points as metric events through the system detector; return (index, finding) per alarm."""
    detector = SystemDetector()
    states = {series_key(TENANT, "eval", name): StateItem()}
    alarms = []
    for i, (t, x) in enumerate(points):
        ts = datetime.fromtimestamp(t, UTC)
        event = Event(
            eventId=f"{name}-{i}",
            userId="metrics",
            timestamp=ts,
            eventType="metric",
            service="eval",
            metricName=name,
            metricValue=x,
        )
        prepared = PreparedEvent(TENANT, event, ts.timestamp(), "metrics", None, None)
        for finding in detector.detect(prepared, states, config):
            alarms.append((i, finding))
    return alarms


def score_series(
    name: str,
    points: list[tuple[float, float]],
    windows: list[tuple[float, float]],
    config: DetectionConfig,
    tolerance: int = DEFAULT_TOLERANCE,
) -> SeriesScore:
    times = [t for t, _ in points]
    steps = sorted(b - a for a, b in pairwise(times) if b > a)
    step = steps[len(steps) // 2] if steps else 1.0
    slack = tolerance * step
    result = SeriesScore(name=name, points=len(points), windows=len(windows))
    hits: list[list[float]] = [[] for _ in windows]
    for i, finding in run_detector(points, config, name):
        t = times[i]
        rule = finding.explanation[0].detail.split(";")[0].removeprefix("rule=") if finding.explanation else "?"
        result.alarms += 1
        inside = False
        for w, (a, b) in enumerate(windows):
            if a - slack <= t <= b:
                hits[w].append(t)
                inside = True
        if not inside:
            result.false_alarms += 1
            result.rules[rule] = result.rules.get(rule, 0) + 1
    for (a, b), found in zip(windows, hits, strict=True):
        if found:
            first = min(found)
            result.detected += 1
            result.delays.append(round((first - a) / step))
            if first < (a + b) / 2:
                result.early += 1
    return result


def evaluate_dir(
    folder: Path, windows_file: Path, config: DetectionConfig | None = None, tolerance: int = DEFAULT_TOLERANCE
) -> list[SeriesScore]:
    """Every CSV under `folder` that has an entry in the windows file (an empty list means: no incident)."""
    config = config or DetectionConfig()
    windows = read_windows(windows_file)
    by_name = {Path(k).name: v for k, v in windows.items()}
    scores = []
    for path in sorted(folder.rglob("*.csv")):
        rel = path.relative_to(folder).as_posix()
        spans = windows.get(rel, by_name.get(path.name))
        if spans is None:
            continue
        scores.append(score_series(rel, read_series(path), spans, config, tolerance))
    if not scores:
        raise MetricsDataError(f"{folder}: no CSV file there has an entry in {windows_file}")
    return scores


def _median(values: list[int]) -> str:
    if not values:
        return "-"
    v = sorted(values)
    mid = len(v) // 2
    return f"{v[mid] if len(v) % 2 else (v[mid - 1] + v[mid]) / 2:g}"


def format_scores(scores: list[SeriesScore], tolerance: int = DEFAULT_TOLERANCE) -> str:
    width = min(70, max([len("series")] + [len(s.name) for s in scores]))
    rows = [f"{'series':<{width}} {'points':>6} {'windows':>8} {'false':>5} {'/1000':>6} {'delay':>6}  false by rule"]
    for s in scores:
        rows.append(
            f"{s.name[-width:]:<{width}} {s.points:>6} {f'{s.detected}/{s.windows}':>8} {s.false_alarms:>5} "
            f"{s.false_per_1000:>6.2f} {_median(s.delays):>6}  {s.rules or ''}"
        )
    points = sum(s.points for s in scores)
    windows = sum(s.windows for s in scores)
    detected = sum(s.detected for s in scores)
    false = sum(s.false_alarms for s in scores)
    delays = [d for s in scores for d in s.delays]
    early = sum(s.early for s in scores)
    recall = f"{detected / windows:.3f}" if windows else "-"
    rows.append(
        f"overall: {len(scores)} series, {points:,} points; windows detected {detected}/{windows} (recall {recall}); "
        f"false alarms {false} = {1000.0 * false / points if points else 0.0:.2f} per 1,000 points; "
        f"median delay {_median(delays)} points from the window start"
    )
    rows.append(
        f"early detection: {early} of {detected} detections fall in the first half of their window (NAB centres "
        f"windows on the labelled point, so these precede the label); alarms up to {tolerance} points before a "
        f"window count for it"
    )
    return "\n".join(rows)
