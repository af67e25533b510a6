"""Reports: POST /reports generates one now (the same code as the schedule), GET /reports lists the
caller's, GET /reports/{reportId} returns one with links to its HTML page. `scope=all` (tokens with the
`admin` scope only) reads and writes the admin roll-up over every tenant (tenant `_all`)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Annotated, Any, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from anomaly_guardian.api.deps import Services, ServicesDep, TenantDep, require
from anomaly_guardian.api.errors import ApiError, not_found

if TYPE_CHECKING:
    from anomaly_guardian.reports.service import ReportPorts

router = Router()
ReportId = Annotated[str, StringConstraints(pattern=r"^(daily|weekly|monthly)-\d{4}-\d{2}-\d{2}$")]
Scope = Literal["tenant", "all"]


class ReportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: Literal["daily", "weekly", "monthly"]
    date: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$", description="the day the period ends on")
    scope: Scope = "tenant"


def _ports(svc: Services) -> ReportPorts:
    return require(svc.reports, "The reports bucket", "REPORTS_BUCKET")


def _owner(tenant: str, scope: str) -> str:
    raw = router.current_event.raw_event
    if scope != "all":
        return tenant
    scopes = str(((raw.get("requestContext") or {}).get("authorizer") or {}).get("scopes", "")).split()
    if "admin" not in scopes:
        raise ApiError(HTTPStatus.FORBIDDEN, "FORBIDDEN", "scope=all needs a token with the admin scope")
    from anomaly_guardian.reports.service import ADMIN_TENANT

    return ADMIN_TENANT


@router.post("/reports", summary="Generate a report now", tags=["reports"])
def create_report(body: ReportRequest, tenant: TenantDep, svc: ServicesDep) -> dict[str, Any]:
    from anomaly_guardian.reports.service import closed_day, generate

    owner = _owner(tenant, body.scope)
    try:
        day = date.fromisoformat(body.date) if body.date else closed_day(body.period, datetime.now(UTC).date())
    except ValueError:
        raise ApiError(HTTPStatus.BAD_REQUEST, "INVALID_PAYLOAD", "date must be a calendar date YYYY-MM-DD") from None
    if day > datetime.now(UTC).date():
        raise ApiError(HTTPStatus.BAD_REQUEST, "INVALID_PAYLOAD", "date must not be in the future")
    return generate(_ports(svc), body.period, day, owner)


@router.get("/reports", summary="List reports", tags=["reports"])
def list_reports(
    period: Annotated[Literal["daily", "weekly", "monthly"] | None, Query()] = None,
    scope: Annotated[Scope, Query()] = "tenant",
    *,
    tenant: TenantDep,
    svc: ServicesDep,
) -> dict[str, Any]:
    owner = _owner(tenant, scope)
    return {"reports": _ports(svc).store.list(owner, period)}


@router.get("/reports/<reportId>", summary="Get one report", tags=["reports"])
def get_report(
    reportId: Annotated[ReportId, Path()],
    scope: Annotated[Scope, Query()] = "tenant",
    *,
    tenant: TenantDep,
    svc: ServicesDep,
) -> dict[str, Any]:
    from anomaly_guardian.adapters.reports_store import ReportNotFound

    owner = _owner(tenant, scope)
    store = _ports(svc).store
    try:
        report = store.get(owner, reportId)
    except ReportNotFound:
        raise not_found("Report", reportId) from None
    report["links"] = store.links(owner, reportId)
    return report
