"""The seed's Security Actions metrics (dashboard row "Security Actions", docs/reports.md): what one
remediation step or correlation adds to Users Blocked, Rate Limited, Incidents Created and ResponseTime.
Pure: the handlers emit what these return as EMF."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

Metric = tuple[str, str, float]  # (name, unit, value)


def _epoch(iso: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(iso).replace("Z", "+00:00")).timestamp()
    except (TypeError, ValueError):
        return None


def action_metrics(event: Mapping[str, Any], result: Mapping[str, Any], now: float) -> list[Metric]:
    """For an `execute` step that took effect (live): RateLimited, UsersBlocked; for any executed
    action (live or dry run): ResponseTime = detectedAt -> the action's completion, in milliseconds."""
    if event.get("op") != "execute" or result.get("duplicate"):
        return []
    status = result.get("status")
    action = (event.get("action") or {}).get("type")
    out: list[Metric] = []
    if status == "done" and action == "rate_limit":
        out.append(("RateLimited", "Count", 1.0))
        if (result.get("detail") or {}).get("user"):
            out.append(("UsersBlocked", "Count", 1.0))
    if status in ("done", "dry_run"):
        detected = _epoch((event.get("anomaly") or {}).get("detectedAt"))
        if detected is not None and now >= detected:
            out.append(("ResponseTime", "Milliseconds", round((now - detected) * 1000, 1)))
    return out


def correlation_metrics(result: Mapping[str, Any]) -> list[Metric]:
    return [("IncidentsCreated", "Count", 1.0)] if result.get("opened") else []
