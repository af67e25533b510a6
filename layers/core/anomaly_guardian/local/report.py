"""The demo's HTML report: one self-contained file, charts as inline SVG (no scripts, no CDN).

Charts: anomalies over (event) time stacked by type, and a type-by-hour-of-day heatmap. Tables:
the per-type summary the demo prints, latency figures and the rejected requests with reasons.
"""

from __future__ import annotations

import html
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

PALETTE = {
    "velocity": "#d62728",
    "value": "#1f77b4",
    "geolocation": "#2ca02c",
    "behavioral": "#9467bd",
    "system": "#ff7f0e",
    "usage": "#8c564b",
    "cost": "#e377c2",
    "rule": "#7f7f7f",
    "ml": "#17becf",
}


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _epoch(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def timeline_svg(anomalies: Sequence[dict[str, Any]], width: int = 900, height: int = 260, buckets: int = 48) -> str:
    """Stacked bars: anomalies per event-time bucket, one colour per type."""
    points = [(_epoch(a["originalEvent"]["timestamp"]), a["anomalyType"]) for a in anomalies]
    if not points:
        return "<p>No anomalies.</p>"
    lo, hi = min(p[0] for p in points), max(p[0] for p in points)
    span = max(hi - lo, 1.0)
    counts: dict[int, Counter] = defaultdict(Counter)
    for t, kind in points:
        counts[min(buckets - 1, int((t - lo) / span * buckets))][kind] += 1
    peak = max(sum(c.values()) for c in counts.values())
    left, bottom, top = 40, 30, 10
    plot_w, plot_h = width - left - 10, height - bottom - top
    bar_w = plot_w / buckets
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="anomalies over event time">'
    ]
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#333"/>')
    for frac in (0, 0.5, 1):
        y = top + plot_h - frac * plot_h
        label = round(peak * frac)
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{label}</text>')
    for i in range(buckets):
        y = top + plot_h
        for kind, n in sorted(counts.get(i, Counter()).items()):
            h = n / peak * plot_h
            y -= h
            parts.append(
                f'<rect x="{left + i * bar_w + 1:.1f}" y="{y:.1f}" width="{max(bar_w - 2, 1):.1f}" height="{h:.1f}" '
                f'fill="{PALETTE.get(kind, "#444")}"><title>{_esc(kind)}: {n}</title></rect>'
            )
    for i, anchor in ((0, "start"), (buckets // 2, "middle"), (buckets, "end")):  # edge labels stay inside
        t = lo + span * i / buckets
        label = datetime.fromtimestamp(t, UTC).strftime("%m-%d %H:%M")
        parts.append(
            f'<text x="{left + i * bar_w:.1f}" y="{height - 8}" font-size="10" text-anchor="{anchor}">{label}</text>'
        )
    parts.append("</svg>")
    legend = " ".join(
        f'<span style="display:inline-block;margin-right:12px"><span style="display:inline-block;width:10px;'
        f'height:10px;background:{PALETTE.get(k, "#444")}"></span> {_esc(k)}</span>'
        for k in sorted({k for _, k in points})
    )
    return "".join(parts) + f"<div>{legend}</div>"


def heatmap_svg(anomalies: Sequence[dict[str, Any]], cell: int = 30) -> str:
    """Rows: anomaly type; columns: hour of day (UTC) of the event; colour: count."""
    grid: dict[str, Counter] = defaultdict(Counter)
    for a in anomalies:
        hour = datetime.fromtimestamp(_epoch(a["originalEvent"]["timestamp"]), UTC).hour
        grid[a["anomalyType"]][hour] += 1
    if not grid:
        return "<p>No anomalies.</p>"
    kinds = sorted(grid)
    peak = max(max(c.values()) for c in grid.values())
    left, top = 100, 20
    width, height = left + 24 * cell + 10, top + len(kinds) * cell + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="anomaly type by hour heatmap">'
    ]
    for h in range(24):
        x = left + h * cell + cell / 2
        parts.append(f'<text x="{x}" y="{top - 6}" font-size="10" text-anchor="middle">{h}</text>')
    for r, kind in enumerate(kinds):
        y = top + r * cell
        ty = y + cell / 2 + 4
        parts.append(f'<text x="{left - 6}" y="{ty}" font-size="11" text-anchor="end">{_esc(kind)}</text>')
        for h in range(24):
            n = grid[kind][h]
            alpha = 0.06 if n == 0 else 0.2 + 0.8 * n / peak
            parts.append(
                f'<rect x="{left + h * cell}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                f'fill="{PALETTE.get(kind, "#444")}" fill-opacity="{alpha:.2f}"><title>{_esc(kind)} '
                f"{h:02d}:00 UTC: {n}</title></rect>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _cell(value: Any) -> str:
    # Numbers and durations align right; words (types, reasons) read from the left.
    text = str(value)
    numeric = text.replace(",", "").replace(".", "").replace("s", "").replace("/", "").replace(" ", "").isdigit()
    return f"<td>{_esc(value)}</td>" if numeric else f'<td style="text-align:left">{_esc(value)}</td>'


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render(
    *,
    title: str,
    summary_headers: Sequence[str],
    summary_rows: Sequence[Sequence[Any]],
    facts: Sequence[tuple[str, Any]],
    anomalies: Sequence[dict[str, Any]],
    rejected: Sequence[tuple[str, int, str]],
    notes: Sequence[str] = (),
) -> str:
    style = (
        "body{font-family:system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f3f3f3}"
        "td:first-child,th:first-child{text-align:left}h2{margin-top:28px}.note{color:#555}"
    )
    fact_rows = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in facts)
    rej = _table(["request", "HTTP status", "reason (from the API)"], rejected)
    note_html = "".join(f'<p class="note">{_esc(n)}</p>' for n in notes)
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{_esc(title)}</title>"
        f"<style>{style}</style></head><body><h1>{_esc(title)}</h1>"
        f"<h2>Per anomaly type</h2>{_table(summary_headers, summary_rows)}"
        f"<h2>Run</h2><table>{fact_rows}</table>{note_html}"
        f"<h2>Anomalies over event time</h2>{timeline_svg(anomalies)}"
        f"<h2>Type by hour of day (UTC, event time)</h2>{heatmap_svg(anomalies)}"
        f"<h2>Rejected requests</h2>{rej}</body></html>"
    )
