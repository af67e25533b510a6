"""Live quality per detector: alert rates, analysts' precision, alert budgets and what changing them would do.

Pure: the inputs are stored anomalies (each with `detector` or `anomalyType`, `anomalyScore`, `severity`,
optional `feedback.label`) and the tenant's event count over the same period (the detector's hourly
counters). `GET /detectors` shows `summarise`, `POST /detectors/{id}/simulate` shows `simulate`, and
`PUT /detectors/{id}/budget` stores the floor `floor_for_budget` computes (the built-in rule's item, which
the detector already reads per tenant: `DetectionConfig.score_floors`).

- alert rate = anomalies at MEDIUM or above per 10,000 events;
- precision = true_positive / (true_positive + false_positive) verdicts (None without verdicts), overall
  and per severity, with the number of verdicts it rests on (a precision from 3 verdicts is not one from 300);
- a budget "at most N alerts per 10k events" is met by the lowest score floor that keeps the stored alerts
  of the period within N x events / 10k. Findings below an existing floor were never stored, so a replay
  can tighten a budget exactly but can only say "at least" for a looser one (`lowerBound`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW")
ALERT_SEVERITIES = frozenset({"CRITICAL", "HIGH", "MEDIUM"})
PER = 10_000
SCORE_STEP = 1e-4  # stored anomalyScore resolution


def detector_of(anomaly: Mapping[str, Any]) -> str:
    return str(anomaly.get("detector") or anomaly.get("anomalyType") or "unknown")


def _label(anomaly: Mapping[str, Any]) -> str | None:
    fb = anomaly.get("feedback")
    label = fb.get("label") if isinstance(fb, Mapping) else None
    return label if label in ("true_positive", "false_positive") else None


def _precision(tp: int, fp: int) -> float | None:
    return round(tp / (tp + fp), 4) if tp + fp else None


def _rate(alerts: int, events: int) -> float | None:
    return round(alerts * PER / events, 3) if events > 0 else None


def summarise(
    anomalies: Iterable[Mapping[str, Any]],
    events: int,
    budgets: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """One row per detector seen (or with a budget): counts, alert rate, precision, budget and whether it
    is exceeded. Sorted noisiest first (lowest precision with verdicts, then highest alert rate)."""
    budgets = budgets or {}
    rows: dict[str, dict[str, Any]] = {}
    for a in anomalies:
        det = detector_of(a)
        row = rows.setdefault(det, {"sev": Counter(), "tp": Counter(), "fp": Counter()})
        sev = str(a.get("severity") or "LOW")
        row["sev"][sev] += 1
        label = _label(a)
        if label == "true_positive":
            row["tp"][sev] += 1
        elif label == "false_positive":
            row["fp"][sev] += 1
    for det in budgets:
        rows.setdefault(det, {"sev": Counter(), "tp": Counter(), "fp": Counter()})
    out = []
    for det, row in rows.items():
        alerts = sum(n for s, n in row["sev"].items() if s in ALERT_SEVERITIES)
        tp, fp = sum(row["tp"].values()), sum(row["fp"].values())
        budget = budgets.get(det) or {}
        per_10k = budget.get("alertBudget")
        rate = _rate(alerts, events)
        out.append(
            {
                "detector": det,
                "anomalies": sum(row["sev"].values()),
                "bySeverity": {s: row["sev"][s] for s in SEVERITIES if row["sev"][s]},
                "alertsPer10k": rate,
                "verdicts": {"truePositive": tp, "falsePositive": fp},
                "precision": _precision(tp, fp),
                "precisionBySeverity": {
                    s: {"precision": _precision(row["tp"][s], row["fp"][s]), "verdicts": row["tp"][s] + row["fp"][s]}
                    for s in SEVERITIES
                    if row["tp"][s] + row["fp"][s]
                },
                "budget": {
                    "alertsPer10k": per_10k,
                    "scoreFloor": budget.get("scoreFloor"),
                    "exceeded": bool(per_10k is not None and rate is not None and rate > per_10k),
                },
            }
        )
    out.sort(
        key=lambda r: (
            r["precision"] if r["precision"] is not None else 2.0,
            -(r["alertsPer10k"] or 0.0),
            r["detector"],
        )
    )
    return out


def floor_for_budget(scores: Iterable[float], events: int, per_10k: float) -> float | None:
    """The lowest score floor that keeps alerts within `per_10k` per 10k of `events`; None when every
    stored alert already fits (no floor needed). Ties at the floor all stay, so the floor is raised past a
    tie that would break the budget."""
    allowed = math.floor(per_10k * events / PER + 1e-9)
    ranked = sorted((float(s) for s in scores), reverse=True)
    if len(ranked) <= allowed:
        return None
    # Everything at or below the first alert over the budget goes (with a tie, the tied ones kept too).
    # Stored scores are rounded to 4 decimals: the margin keeps a finding that rounded down to the cut out.
    return min(1.0, round(ranked[allowed] + SCORE_STEP, 4))


def simulate(
    anomalies: Iterable[Mapping[str, Any]],
    events: int,
    *,
    threshold: float | None = None,
    alerts_per_10k: float | None = None,
    current_floor: float | None = None,
) -> dict[str, Any]:
    """Replays one detector's stored anomalies of the period against a score threshold or an alert budget
    (which is turned into the threshold that meets it): what stays, by severity, with the verdicts that
    stay and the precision and alert rate before and after."""
    items = [a for a in anomalies if str(a.get("severity") or "LOW") in ALERT_SEVERITIES]
    if (threshold is None) == (alerts_per_10k is None):
        raise ValueError("give exactly one of threshold and alertsPer10k")
    if alerts_per_10k is not None:
        threshold = floor_for_budget((float(a.get("anomalyScore", 0.0)) for a in items), events, alerts_per_10k)
    kept = [a for a in items if threshold is None or float(a.get("anomalyScore", 0.0)) >= threshold]

    def stats(rows: list[Mapping[str, Any]]) -> dict[str, Any]:
        sev = Counter(str(a.get("severity")) for a in rows)
        labels = Counter(_label(a) for a in rows)
        tp, fp = labels["true_positive"], labels["false_positive"]
        return {
            "alerts": len(rows),
            "bySeverity": {s: sev[s] for s in SEVERITIES if sev[s]},
            "alertsPer10k": _rate(len(rows), events),
            "verdicts": {"truePositive": tp, "falsePositive": fp},
            "precision": _precision(tp, fp),
        }

    loosening = threshold is None or (current_floor is not None and threshold < current_floor)
    return {
        "threshold": threshold,
        "events": events,
        "current": stats(items),
        "simulated": stats(kept),
        "removed": len(items) - len(kept),
        # Findings below the floor in force were never stored: a looser setting shows a lower bound.
        "lowerBound": bool(loosening and current_floor is not None),
    }


__all__ = ["detector_of", "floor_for_budget", "simulate", "summarise"]
