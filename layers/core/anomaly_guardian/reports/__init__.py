"""Daily, weekly and monthly reports and the KPIs they carry (pure: no AWS; docs/reports.md).

`build(period, day, tenant, anomalies, previous, counters)` -> the report JSON; `render_html(report)` -> a
self-contained HTML page with server-side SVG charts (no scripts, no CDN). Inputs come from
`reports.service` (anomalies table for anomalies, verdicts and actions; `counters` for event counts and
errors measured elsewhere). A figure the inputs cannot support is null with a `reason`, never invented.
"""

from __future__ import annotations

import html
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

PERIODS = ("daily", "weekly", "monthly")
SEVERITY_ORDER = {"CRITICAL": 3, "HIGH": 2, "MEDIUM": 1, "LOW": 0}
NOISY_MIN_VERDICTS = 3
NOISY_FP_SHARE = 0.5
DETECT_TARGET_S = 900.0  # timeliness: detected within 15 minutes of the event counts fully
# Events stamped more than this before their detection are backfills or replays (old timestamps sent
# today), not live detection: they are left out of MTTD and the latency percentiles, and counted.
MAX_LIVE_LAG_S = 86400.0


def period_bounds(period: str, day: date) -> tuple[datetime, datetime]:
    """[start, end) of the period that `day` closes: the day, the 7 days ending on it, its calendar month."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}")
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
    if period == "daily":
        return end - timedelta(days=1), end
    if period == "weekly":
        return end - timedelta(days=7), end
    start = datetime(day.year, day.month, 1, tzinfo=UTC)
    nxt = datetime(day.year + (day.month == 12), day.month % 12 + 1, 1, tzinfo=UTC)
    return start, nxt


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(str(iso).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _pct(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return round(ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo), 3)


def detection_latencies(anomalies: Sequence[Mapping[str, Any]]) -> list[float]:
    """Seconds from the event's own time to detectedAt (MTTD's samples); cost anomalies excluded (their
    'event' is a day of spend), and backfilled events (older than MAX_LIVE_LAG_S at detection)."""
    out = []
    for a in anomalies:
        if a.get("anomalyType") == "cost":
            continue
        t, d = _epoch((a.get("originalEvent") or {}).get("timestamp")), _epoch(a.get("detectedAt"))
        if t is not None and d is not None and 0 <= d - t <= MAX_LIVE_LAG_S:
            out.append(d - t)
    return out


def _action_time(action: Mapping[str, Any]) -> float | None:
    for key in ("at", "performedAt", "timestamp", "completedAt"):
        if action.get(key):
            return _epoch(str(action[key]))
    return None


def response_latencies(anomalies: Sequence[Mapping[str, Any]]) -> list[float]:
    """Seconds from detectedAt to the first action performed (or the resolution), MTTR's samples."""
    out = []
    for a in anomalies:
        d = _epoch(a.get("detectedAt"))
        times = [t for t in (_action_time(x) for x in a.get("actionsPerformed") or []) if t is not None]
        resolved = _epoch(a.get("resolvedAt"))
        if resolved is not None:
            times.append(resolved)
        if d is not None and times:
            out.append(max(0.0, min(times) - d))
    return out


def verdicts(anomalies: Sequence[Mapping[str, Any]]) -> Counter:
    return Counter((a.get("feedback") or {}).get("label") for a in anomalies if (a.get("feedback") or {}).get("label"))


def kpis(anomalies: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The KPIs of docs/reports.md over one period's anomalies."""
    v = verdicts(anomalies)
    tp, fp = v.get("true_positive", 0), v.get("false_positive", 0)
    labelled = tp + fp
    precision = tp / labelled if labelled else None
    fpr = fp / labelled if labelled else None
    mttd = detection_latencies(anomalies)
    mttr = response_latencies(anomalies)
    serious = [a for a in anomalies if a.get("severity") in ("CRITICAL", "HIGH")]
    covered = [a for a in serious if a.get("actionsPerformed")]
    coverage = len(covered) / len(serious) if serious else 1.0
    mean_mttd = statistics.fmean(mttd) if mttd else None
    timeliness = max(0.0, 1.0 - mean_mttd / DETECT_TARGET_S) if mean_mttd is not None else 1.0
    posture = round(100 * (0.4 * coverage + 0.3 * (1.0 - (fpr or 0.0)) + 0.3 * timeliness), 1)
    return {
        "securityPostureScore": posture,
        "postureComponents": {"responseCoverage": round(coverage, 4), "timeliness": round(timeliness, 4)},
        "detectionRate": None if precision is None else round(precision, 4),
        "falsePositiveRate": None if fpr is None else round(fpr, 4),
        "verdicts": {"truePositive": tp, "falsePositive": fp},
        "mttdSeconds": None if mean_mttd is None else round(mean_mttd, 3),
        "mttrSeconds": round(statistics.fmean(mttr), 3) if mttr else None,
    }


def _public(a: Mapping[str, Any]) -> dict[str, Any]:
    keep = ("anomalyId", "anomalyType", "severity", "anomalyScore", "detectedAt", "userId", "description")
    out = {k: a[k] for k in keep if k in a}
    if a.get("costEstimate"):
        out["costEstimate"] = a["costEstimate"].get("text")
    if a.get("impact"):
        out["totalImpactUsd"] = a["impact"].get("totalImpact")
    return out


def top_anomalies(anomalies: Sequence[Mapping[str, Any]], n: int = 10) -> list[dict[str, Any]]:
    ranked = sorted(
        anomalies,
        key=lambda a: (SEVERITY_ORDER.get(a.get("severity", "LOW"), 0), float(a.get("anomalyScore", 0))),
        reverse=True,
    )
    return [_public(a) for a in ranked[:n]]


def recommendations(anomalies: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Detectors whose verdicts say they are noisy, with the replayed effect of a higher score cut: how
    many of the period's anomalies (and of its false positives) a cut at the false positives' highest
    score would have removed, and how many confirmed ones it would have lost."""
    out = []
    by_type: dict[str, list[Mapping[str, Any]]] = {}
    for a in anomalies:
        by_type.setdefault(str(a.get("anomalyType")), []).append(a)
    for kind, items in sorted(by_type.items()):
        v = verdicts(items)
        tp, fp = v.get("true_positive", 0), v.get("false_positive", 0)
        if tp + fp < NOISY_MIN_VERDICTS or fp / (tp + fp) < NOISY_FP_SHARE:
            continue
        fp_scores = [
            float(a["anomalyScore"]) for a in items if (a.get("feedback") or {}).get("label") == "false_positive"
        ]
        cut = round(min(0.99, max(fp_scores) + 0.01), 2)
        removed = [a for a in items if float(a["anomalyScore"]) < cut]
        lost = [a for a in removed if (a.get("feedback") or {}).get("label") == "true_positive"]
        out.append(
            {
                "rule": f"{kind}-check",
                "finding": f"{fp} of {tp + fp} verdicts on {kind} anomalies were false positives",
                "suggestion": f"raise the {kind} score cut to {cut} (PUT /rules/{kind}-check)",
                "replayedEffect": {
                    "anomalies": len(items),
                    "removed": len(removed),
                    "falsePositivesRemoved": sum(
                        1 for a in removed if (a.get("feedback") or {}).get("label") == "false_positive"
                    ),
                    "truePositivesLost": len(lost),
                },
            }
        )
    return out


def _by_day(anomalies: Sequence[Mapping[str, Any]], start: datetime, end: datetime) -> list[dict[str, Any]]:
    days = Counter(str(a.get("detectedAt", ""))[:10] for a in anomalies)
    out, d = [], start.date()
    while d < end.date():
        out.append({"date": d.isoformat(), "anomalies": days.get(d.isoformat(), 0)})
        d += timedelta(days=1)
    return out


def build(
    period: str,
    day: date,
    tenant: str,
    anomalies: Sequence[Mapping[str, Any]],
    previous: Sequence[Mapping[str, Any]] = (),
    counters: Mapping[str, Any] | None = None,
    generated_at: str | None = None,
) -> dict[str, Any]:
    start, end = period_bounds(period, day)
    counters = dict(counters or {})
    events = counters.get("eventsProcessed")
    seconds = (end - start).total_seconds()
    latencies = detection_latencies(anomalies)
    actions = sum(len(a.get("actionsPerformed") or []) for a in anomalies)
    types = Counter(str(a.get("anomalyType")) for a in anomalies)
    severities = Counter(str(a.get("severity")) for a in anomalies)
    report: dict[str, Any] = {
        "reportId": f"{period}-{day.isoformat()}",
        "period": period,
        "date": day.isoformat(),
        "from": start.isoformat().replace("+00:00", "Z"),
        "to": end.isoformat().replace("+00:00", "Z"),
        "tenantId": tenant,
        "generatedAt": generated_at or datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "summary": {
            "total_events_processed": events,
            "events_source": counters.get("eventsSource", "unavailable"),
            "anomalies_detected": len(anomalies),
            "actions_performed": actions,
            "system_performance": {
                "detection_latency_p50_s": _pct(latencies, 0.5),
                "detection_latency_p95_s": _pct(latencies, 0.95),
                "errors": counters.get("errors"),
                "throughput_events_per_s": round(events / seconds, 6) if isinstance(events, int | float) else None,
                "latency_samples": len(latencies),
                "latency_samples_excluded": sum(1 for a in anomalies if a.get("anomalyType") != "cost")
                - len(latencies),
            },
        },
        "by_type": dict(sorted(types.items())),
        "by_severity": {s: severities.get(s, 0) for s in ("CRITICAL", "HIGH", "MEDIUM", "LOW")},
        "by_hour": [sum(1 for a in anomalies if str(a.get("detectedAt", ""))[11:13] == f"{h:02d}") for h in range(24)],
        "top_anomalies": top_anomalies(anomalies),
        "kpis": kpis(anomalies),
        "system_health": {
            "status": "degraded" if counters.get("errors") else "healthy",
            "errors": counters.get("errors"),
            "dlqMessages": counters.get("dlqMessages"),
            "notes": counters.get("healthNotes", []),
        },
        "recommendations": recommendations(anomalies),
    }
    if period in ("weekly", "monthly"):
        prev_types = Counter(str(a.get("anomalyType")) for a in previous)
        report["trends"] = {
            "daily": _by_day(anomalies, start, end),
            "previous_period_anomalies": len(previous),
            "change_pct": round(100 * (len(anomalies) - len(previous)) / len(previous), 1) if previous else None,
        }
        report["model_performance"] = {
            "precision_by_type": {
                t: (kpis([a for a in anomalies if a.get("anomalyType") == t])["detectionRate"]) for t in sorted(types)
            },
            "drift": counters.get("drift", {"value": None, "reason": "drift is reported by the drift monitor"}),
        }
        report["threat_evolution"] = [
            {"type": t, "this_period": types.get(t, 0), "previous_period": prev_types.get(t, 0)}
            for t in sorted(set(types) | set(prev_types))
        ]
    if period == "monthly":
        report["capacity"] = counters.get(
            "capacity", {"value": None, "reason": "stream and table utilisation come from CloudWatch"}
        )
        report["system_cost"] = counters.get(
            "systemCost", {"value": None, "reason": "the system's own cost comes from Cost Explorer"}
        )
    return report


# ---------------------------------------------------------------------------------------------- HTML
_COLORS = {"CRITICAL": "#b3261e", "HIGH": "#e8710a", "MEDIUM": "#f9ab00", "LOW": "#1e8e3e"}


def _bars(title: str, items: Sequence[tuple[str, float]], color: str = "#1a73e8", width: int = 640) -> str:
    h, pad, bar_h = 24 * max(1, len(items)) + 40, 150, 18
    peak = max((v for _, v in items), default=0) or 1
    rows = []
    for i, (label, value) in enumerate(items):
        y = 30 + i * 24
        w = (width - pad - 60) * value / peak
        fill = _COLORS.get(label, color)
        rows.append(
            f'<text x="{pad - 8}" y="{y + 13}" text-anchor="end">{html.escape(label)}</text>'
            f'<rect x="{pad}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{fill}"/>'
            f'<text x="{pad + w + 6:.1f}" y="{y + 13}">{value:g}</text>'
        )
    return (
        f'<svg role="img" aria-label="{html.escape(title)}" width="{width}" '
        f'height="{h}" font-family="sans-serif" font-size="12"><text x="0" y="16" font-weight="bold">'
        f"{html.escape(title)}</text>{''.join(rows)}</svg>"
    )


def _columns(title: str, values: Sequence[float], labels: Sequence[str], width: int = 640) -> str:
    h, base = 200, 170
    peak = max(values, default=0) or 1
    step = (width - 40) / max(1, len(values))
    cols = []
    for i, v in enumerate(values):
        x = 30 + i * step
        ch = 130 * v / peak
        cols.append(
            f'<rect x="{x:.1f}" y="{base - ch:.1f}" width="{step * 0.7:.1f}" height="{ch:.1f}" fill="#1a73e8"/>'
        )
        if len(values) <= 31 and (len(values) <= 12 or i % 3 == 0):
            cols.append(f'<text x="{x:.1f}" y="{base + 14}" font-size="10">{html.escape(labels[i])}</text>')
    return (
        f'<svg role="img" aria-label="{html.escape(title)}" width="{width}" '
        f'height="{h}" font-family="sans-serif" font-size="12"><text x="0" y="16" font-weight="bold">'
        f'{html.escape(title)}</text><line x1="25" y1="{base}" x2="{width - 5}" y2="{base}" stroke="#999"/>'
        f"{''.join(cols)}</svg>"
    )


_CSS = (
    "body{font-family:sans-serif;margin:24px;color:#202124}"
    ".cards{display:flex;flex-wrap:wrap;gap:12px}"
    ".card{border:1px solid #dadce0;border-radius:8px;padding:12px 16px;min-width:150px}"
    ".v{font-size:24px;font-weight:bold}.l{color:#5f6368}"
    "table{border-collapse:collapse;margin-top:12px}"
    "td,th{border-bottom:1px solid #eee;padding:4px 8px;text-align:left}svg{display:block;margin:16px 0}"
)


def _fmt(v: Any) -> str:
    return "n/a" if v is None else html.escape(f"{v:,}" if isinstance(v, int) else str(v))


def _short(kind: str, name: str) -> str:
    """A bar label that fits the chart's 150 px gutter: the end of a long physical name."""
    label = f"{kind} {name}"
    return label if len(label) <= 24 else f"{kind} ...{name[-(20 - len(kind)) :]}"


def _pct_text(v: Any) -> str:
    return "n/a" if v is None else f"{float(v):.1%}"


def _capacity_html(cap: Mapping[str, Any]) -> str:
    """Monthly: utilisation bars (peak against limit) and the figures behind them; or why there are none."""
    if cap.get("reason"):
        return f"<h2>Capacity planning</h2><p>n/a: {html.escape(str(cap['reason']))}</p>"
    bars: list[tuple[str, float]] = []
    rows = []
    for st in cap.get("streams") or []:
        bars.append((_short("stream", st["name"]), round(100 * float(st["utilisation"]), 1)))
        rows.append(
            f"<tr><td>stream {html.escape(st['name'])}</td><td>{html.escape(st['mode'])}, "
            f"{st['openShards']} shard(s)</td><td>{st['peakRecordsPerSecond']:g} records/s, "
            f"{st['peakBytesPerSecond']:g} B/s</td><td>{st['recordsLimitPerSecond']:,} records/s, "
            f"{st['bytesLimitPerSecond']:,} B/s</td><td>{_pct_text(st['utilisation'])}</td>"
            f"<td>{st['writeThrottled']:,}</td></tr>"
        )
    for t in cap.get("tables") or []:
        peak = max(t["readUtilisation"] or 0.0, t["writeUtilisation"] or 0.0)
        bars.append((_short("table", t["name"]), round(100 * peak, 1)))
        rows.append(
            f"<tr><td>table {html.escape(t['name'])}</td><td>{html.escape(t['billingMode'])}</td>"
            f"<td>{t['peakReadUnitsPerSecond']:g} RCU/s, {t['peakWriteUnitsPerSecond']:g} WCU/s</td>"
            f"<td>{_fmt(t['readLimitPerSecond'])} / {_fmt(t['writeLimitPerSecond'])} "
            f"({html.escape(t['limitSource'])})</td><td>{_pct_text(t['readUtilisation'])} read, "
            f"{_pct_text(t['writeUtilisation'])} write</td><td>{t['throttleEvents']:,}</td></tr>"
        )
    lam = cap.get("lambda")
    if lam:
        bars.append(("Lambda concurrency", round(100 * float(lam["utilisation"] or 0), 1)))
        rows.append(
            f"<tr><td>Lambda (account)</td><td>concurrency</td><td>{lam['peakConcurrentExecutions']:g}</td>"
            f"<td>{lam['accountConcurrencyLimit']:,}</td><td>{_pct_text(lam['utilisation'])}</td>"
            f"<td>{lam['throttles']:,}</td></tr>"
        )
    notes = "".join(f"<li>{html.escape(w)}</li>" for w in (cap.get("warnings") or []) + (cap.get("errors") or []))
    return (
        "<h2>Capacity planning</h2>"
        + (_bars("Peak utilisation (% of limit)", bars) if bars else "")
        + "<table><tr><th>resource</th><th>mode</th><th>peak (5-minute average)</th><th>limit</th>"
        f"<th>utilisation</th><th>throttled</th></tr>{''.join(rows)}</table>" + (f"<ul>{notes}</ul>" if notes else "")
    )


def _cost_html(cost: Mapping[str, Any]) -> str:
    if cost.get("reason"):
        return f"<h2>Cost of the system</h2><p>n/a: {html.escape(str(cost['reason']))}</p>"
    services = cost.get("byService") or []
    chart = (
        _bars("Cost by service (USD)", [(_short("", s["service"]).strip(), s["usd"]) for s in services[:10]])
        if services
        else ""
    )
    return (
        f"<h2>Cost of the system</h2><p>{cost['totalUsd']:,.2f} {html.escape(str(cost['currency']))}"
        f"{' (estimated: the month is not closed)' if cost.get('estimated') else ''}; "
        f"{html.escape(str(cost.get('source', '')))}</p>{chart}"
    )


def render_html(report: Mapping[str, Any]) -> str:
    s, k = report["summary"], report["kpis"]
    perf = s["system_performance"]
    cards = [
        ("Security posture", f"{k['securityPostureScore']}/100"),
        ("Events processed", _fmt(s["total_events_processed"])),
        ("Anomalies", _fmt(s["anomalies_detected"])),
        ("Actions", _fmt(s["actions_performed"])),
        ("Detection rate", _fmt(k["detectionRate"])),
        ("False-positive rate", _fmt(k["falsePositiveRate"])),
        ("MTTD (s)", _fmt(k["mttdSeconds"])),
        ("MTTR (s)", _fmt(k["mttrSeconds"])),
        ("p95 detection latency (s)", _fmt(perf["detection_latency_p95_s"])),
    ]
    card_html = "".join(
        f'<div class="card"><div class="v">{v}</div><div class="l">{html.escape(lbl)}</div></div>' for lbl, v in cards
    )
    charts = [
        _bars("Anomalies by severity", list(report["by_severity"].items())),
        _bars("Anomalies by type", list(report["by_type"].items()) or [("none", 0)]),
        _columns("Anomalies by hour of day (UTC)", report["by_hour"], [f"{h:02d}" for h in range(24)]),
    ]
    if "trends" in report:
        days = report["trends"]["daily"]
        charts.append(_columns("Anomalies per day", [d["anomalies"] for d in days], [d["date"][5:] for d in days]))
    rows = "".join(
        f"<tr><td>{html.escape(a.get('severity', ''))}</td><td>{html.escape(str(a.get('anomalyType', '')))}</td>"
        f"<td>{a.get('anomalyScore', '')}</td><td>{html.escape(str(a.get('description', '')))}</td></tr>"
        for a in report["top_anomalies"]
    )
    recs = (
        "".join(
            f"<li>{html.escape(r['finding'])}: {html.escape(r['suggestion'])} "
            f"(replayed: {r['replayedEffect']['removed']} of {r['replayedEffect']['anomalies']} removed, "
            f"{r['replayedEffect']['truePositivesLost']} confirmed lost)</li>"
            for r in report["recommendations"]
        )
        or "<li>none</li>"
    )
    monthly = ""
    if report["period"] == "monthly":
        monthly = _capacity_html(report["capacity"]) + _cost_html(report["system_cost"])
    title = f"Anomaly Guardian {report['period']} report {report['date']} ({report['tenantId']})"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_CSS}</style></head>
<body><h1>{html.escape(title)}</h1><p>{html.escape(report["from"])} to {html.escape(report["to"])};
system health: {html.escape(report["system_health"]["status"])}; events counted from
{html.escape(str(s.get("events_source")))}</p>
<div class="cards">{card_html}</div>
{"".join(charts)}
<h2>Top anomalies</h2><table><tr><th>severity</th><th>type</th><th>score</th><th>description</th></tr>{rows}</table>
<h2>Recommendations</h2><ul>{recs}</ul>{monthly}</body></html>"""
