"""One scheduled run of `cost_anomalies`: GetAnomalies since the last run -> `cost` anomalies -> stored and
handed to the response path (correlator, remediation notify, SNS alert) like the detector's anomalies.

Idempotent on the Cost Explorer anomaly id (see adapters/cost_state.py): an anomaly already DONE is
skipped; one below the threshold is remembered as BELOW and emitted on a later run if its impact grew
past it; a run that died after claiming (PENDING) is finished with the same anomaly id next time.
The cursor moves only after a complete run, so a failed page is read again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from anomaly_guardian.config import DetectionConfig
from anomaly_guardian.cost import impact_of, query_window, to_anomaly
from anomaly_guardian.ids import new_ulid, ulid_ms
from anomaly_guardian.models.anomaly import Anomaly


class AnomalyFeed(Protocol):
    """adapters.cost_explorer.CostExplorer: GetAnomalies in a date window."""

    def anomalies(self, start: str, end: str) -> Iterable[dict[str, Any]]: ...


class CostRunState(Protocol):
    """adapters.cost_state.CostStateRepository: the run cursor and one marker per Cost Explorer anomaly."""

    def cursor(self, tenant: str) -> dict[str, Any]: ...

    def put_cursor(self, tenant: str, last_end: str, run_at: str) -> None: ...

    def marker(self, tenant: str, cost_anomaly_id: str) -> dict[str, Any] | None: ...

    def put_marker(
        self, tenant: str, cost_anomaly_id: str, status: str, total_impact: float, anomaly_id: str | None = None
    ) -> bool: ...


class AnomalyWriter(Protocol):
    """adapters.anomalies.AnomalyRepository"""

    def put_many(self, anomalies: Sequence[Anomaly | dict[str, Any]]) -> int: ...


@dataclass
class CostPorts:
    explorer: AnomalyFeed
    state: CostRunState
    anomalies: AnomalyWriter
    dispatch: Callable[[list[Anomaly]], int]
    # The tenant's effective detection config (its cost-check threshold, `PUT /rules/cost-check`).
    config_for: Callable[[str], DetectionConfig]


def _iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def run(
    ports: CostPorts,
    tenant: str,
    config: DetectionConfig,
    now: datetime | None = None,
    lookback_days: int = 7,
) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    if not config.cost.enabled:
        return {"tenant": tenant, "skipped": "cost-check disabled"}
    threshold = config.cost.min_total_impact_usd
    cursor = ports.state.cursor(tenant)
    start, end = query_window(cursor.get("lastEnd"), now.date(), lookback_days)
    counts = {"read": 0, "emitted": 0, "below": 0, "already": 0}
    pending: list[tuple[str, Anomaly]] = []
    items: Iterable[dict[str, Any]] = ports.explorer.anomalies(start, end)
    for item in items:
        counts["read"] += 1
        ce_id = str(item["AnomalyId"])
        marker = ports.state.marker(tenant, ce_id) or {}
        status = marker.get("status")
        if status == "DONE":
            counts["already"] += 1
            continue
        anomaly_id = marker["anomalyId"] if status == "PENDING" else new_ulid(int(now.timestamp() * 1000))
        anomaly = to_anomaly(item, tenant, threshold, anomaly_id, _iso_ms(ulid_ms(anomaly_id)))
        total = impact_of(item)["totalImpact"] or 0.0  # always a float (0.0 when Cost Explorer gave none)
        if anomaly is None:
            counts["below"] += 1
            if status != "BELOW" or marker.get("totalImpact") != total:
                ports.state.put_marker(tenant, ce_id, "BELOW", total)
            continue
        if status != "PENDING" and not ports.state.put_marker(tenant, ce_id, "PENDING", total, anomaly_id):
            counts["already"] += 1  # another run claimed it just now
            continue
        pending.append((ce_id, anomaly))
    if pending:
        new = [a for _, a in pending]
        ports.anomalies.put_many(new)
        ports.dispatch(new)
        for ce_id, anomaly in pending:
            ports.state.put_marker(tenant, ce_id, "DONE", anomaly.impact["totalImpact"], anomaly.anomalyId)
        counts["emitted"] = len(new)
    ports.state.put_cursor(tenant, end, now.isoformat(timespec="seconds").replace("+00:00", "Z"))
    return {"tenant": tenant, "window": [start, end], "threshold": threshold, **counts}
