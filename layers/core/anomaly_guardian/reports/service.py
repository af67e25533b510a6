"""Generating a report: read the period's anomalies (and the previous period's, for trends) and the
detector's per-tenant hourly counters, build the JSON and HTML (`reports`), store both in the reports
bucket, publish a summary with links to SNS, and emit the KPIs as metrics.

Tenant `_all` (ADMIN_TENANT) is the admin roll-up: every tenant active in the period (from the counters'
daily tenant sets), anomalies and counters summed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from anomaly_guardian.reports import build, period_bounds, render_html

ADMIN_TENANT = "_all"
MAX_ANOMALIES = 50_000  # per report: beyond this the report says it was truncated


class AnomalyReader(Protocol):
    """adapters.anomalies.AnomalyRepository: a tenant's anomalies in a window, paged."""

    def query(
        self,
        tenant: str,
        *,
        from_date: datetime | str | None = None,
        to_date: datetime | str | None = None,
        limit: int = 100,
        next_token: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]: ...


class EventCounters(Protocol):
    """adapters.counters.TenantCounters: events per tenant and hour."""

    def totals(self, tenants: Iterable[str], start: datetime, end: datetime) -> dict[str, int]: ...

    def active_tenants(self, start: datetime, end: datetime) -> list[str]: ...


class ReportArchive(Protocol):
    """adapters.reports_store.ReportStore: the reports bucket."""

    def put(self, tenant: str, report: Mapping[str, Any], html: str) -> dict[str, str]: ...

    def links(self, tenant: str, report_id: str) -> dict[str, str]: ...

    def get(self, tenant: str, report_id: str) -> dict[str, Any]: ...

    def list(self, tenant: str, period: str | None = None) -> list[dict[str, Any]]: ...


class ReportAlerts(Protocol):
    """adapters.sns.AlertTopic"""

    def publish(self, subject: str, message: Mapping[str, Any], severity: str, tenant: str, event: str) -> str: ...


class CapacityFigures(Protocol):
    """adapters.capacity.CapacityReader: CloudWatch figures of the stack (monthly admin report)."""

    def read(self, start: datetime, end: datetime) -> dict[str, Any]: ...


class SystemCostFigures(Protocol):
    """adapters.cost_explorer.SystemCost: the stack's own cost by service (monthly admin report)."""

    def read(self, start: str, end: str) -> dict[str, Any]: ...


@dataclass
class ReportPorts:
    anomalies: AnomalyReader
    counters: EventCounters
    store: ReportArchive
    alerts: ReportAlerts | None = None
    emit: Callable[[str, dict[str, Any]], None] | None = None  # (tenant, kpis) -> EMF
    capacity: CapacityFigures | None = None  # monthly admin report only
    system_cost: SystemCostFigures | None = None  # monthly admin report only


def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def collect(repo: Any, tenants: list[str], start: datetime, end: datetime) -> tuple[list[dict[str, Any]], bool]:
    """Every anomaly of `tenants` in [start, end), paged (1,000 per query); (anomalies, truncated)."""
    out: list[dict[str, Any]] = []
    for tenant in tenants:
        token = None
        while True:
            last = _iso(end - timedelta(milliseconds=1))
            items, token = repo.query(tenant, from_date=_iso(start), to_date=last, limit=1000, next_token=token)
            out.extend(items)
            if len(out) >= MAX_ANOMALIES:
                return out[:MAX_ANOMALIES], True
            if not token:
                break
    return out, False


def previous_bounds(period: str, day: date) -> tuple[datetime, datetime]:
    start, _ = period_bounds(period, day)
    return period_bounds(period, (start - timedelta(days=1)).date())


def generate(ports: ReportPorts, period: str, day: date, tenant: str, notify: bool = True) -> dict[str, Any]:
    start, end = period_bounds(period, day)
    tenants = ports.counters.active_tenants(start, end) if tenant == ADMIN_TENANT else [tenant]
    anomalies, truncated = collect(ports.anomalies, tenants, start, end)
    previous: list[dict[str, Any]] = []
    if period != "daily":
        p_start, p_end = previous_bounds(period, day)
        previous, _ = collect(ports.anomalies, tenants, p_start, p_end)
    totals = ports.counters.totals(tenants, start, end)
    counters: dict[str, Any] = {
        "eventsProcessed": totals["events"],
        "eventsSource": "detector per-tenant hourly counters (Audit table CNT#)",
        "errors": totals["errors"],
        "healthNotes": [f"anomalies counted by the detector: {totals['anomalies']}"]
        + (["anomaly list truncated at 50,000"] if truncated else []),
    }
    if period == "monthly":
        counters.update(system_figures(ports, tenant, start, end))
    report = build(period, day, tenant, anomalies, previous, counters)
    if tenant == ADMIN_TENANT:
        report["tenants"] = tenants
    html = render_html(report)
    keys = ports.store.put(tenant, report, html)
    links = ports.store.links(tenant, report["reportId"])
    report["links"] = links
    if ports.emit is not None:
        ports.emit(tenant, report["kpis"])
    if notify and ports.alerts is not None:
        s = report["summary"]
        message = {
            "event": "report.generated",
            "tenantId": tenant,
            "reportId": report["reportId"],
            "period": period,
            "date": report["date"],
            "summary": {k: s[k] for k in ("total_events_processed", "anomalies_detected", "actions_performed")},
            "securityPostureScore": report["kpis"]["securityPostureScore"],
            "topAnomaly": (report["top_anomalies"] or [{}])[0].get("description"),
            "consoleUrl": links["consoleUrl"],
            "htmlUrl": links["htmlUrl"],
            "keys": keys,
        }
        subject = (
            f"Anomaly Guardian {period} report {report['date']}: {s['anomalies_detected']} anomalies, "
            f"posture {report['kpis']['securityPostureScore']}"
        )
        ports.alerts.publish(subject, message, "LOW", tenant, "report.generated")
    return report


def system_figures(ports: ReportPorts, tenant: str, start: datetime, end: datetime) -> dict[str, Any]:
    """Capacity and the system's own cost: stack-wide figures, so only in the admin roll-up (a tenant's
    report points there; the stack's cost is the operator's, not a tenant's). A reader that fails gives
    a null with its reason instead of failing the report."""
    if tenant != ADMIN_TENANT:
        why = {"value": None, "reason": f"stack-wide figure: in the admin report (tenant {ADMIN_TENANT})"}
        return {"capacity": why, "systemCost": why}
    out: dict[str, Any] = {}
    if ports.capacity is None:
        out["capacity"] = {"value": None, "reason": "no capacity reader configured (functions/reports reads it)"}
    else:
        out["capacity"] = ports.capacity.read(start, end)
    if ports.system_cost is None:
        out["systemCost"] = {"value": None, "reason": "no cost reader configured (SYSTEM_COST_TAGS unset)"}
    else:
        try:
            out["systemCost"] = ports.system_cost.read(start.date().isoformat(), end.date().isoformat())
        except Exception as exc:  # the reader reports Cost Explorer's own refusals; anything else: named only
            out["systemCost"] = {"value": None, "reason": f"system cost not read: {type(exc).__name__}"}
    return out


def closed_day(period: str, today: date) -> date:
    """The day a scheduled run reports on: yesterday (daily, weekly: the 7 days ending yesterday), or the
    last day of the previous month (monthly)."""
    if period == "monthly":
        return today.replace(day=1) - timedelta(days=1)
    return today - timedelta(days=1)


def scheduled(ports: ReportPorts, event: dict[str, Any], today: date) -> dict[str, Any]:
    """One schedule firing: the period's report for every tenant active in it, and the admin roll-up."""
    period = str((event or {}).get("period", "daily"))
    day = date.fromisoformat(event["date"]) if (event or {}).get("date") else closed_day(period, today)
    start, end = period_bounds(period, day)
    tenants = ports.counters.active_tenants(start, end)
    written = [generate(ports, period, day, t)["reportId"] for t in tenants]
    generate(ports, period, day, ADMIN_TENANT)
    return {"period": period, "date": day.isoformat(), "tenants": tenants, "reports": len(written) + 1}
