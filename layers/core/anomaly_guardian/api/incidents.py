"""GET /incidents (filters status, severity; pagination), GET /incidents/{incidentId} and
POST /incidents/{incidentId}/resolve, for the caller's tenant. The correlator opens and grows incidents;
an analyst closes one here (an anomaly on the same entity afterwards opens a new incident)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from http import HTTPStatus
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from anomaly_guardian.api.anomalies import ULID_PATTERN, Pagination
from anomaly_guardian.api.deps import Services, ServicesDep, TenantDep, require
from anomaly_guardian.api.errors import ApiError, not_found
from anomaly_guardian.api.ports import IncidentStore
from anomaly_guardian.models.anomaly import Severity
from anomaly_guardian.response.correlation import rank_key
from anomaly_guardian.response.notify import fan_out

router = Router()
IncidentId = Annotated[str, Path(pattern=ULID_PATTERN, description="ULID of the incident")]
MAX_INCIDENTS = 200


class IncidentStatus(StrEnum):
    OPEN = "OPEN"
    MITIGATED = "MITIGATED"
    RESOLVED = "RESOLVED"
    REMEDIATION_FAILED = "REMEDIATION_FAILED"


class IncidentPage(BaseModel):
    incidents: list[dict[str, Any]] = Field(description="incidents, newest first")
    pagination: Pagination


def incident_store(svc: Services) -> IncidentStore:
    return require(svc.incidents, "The incidents table", "INCIDENTS_TABLE")


@router.get("/incidents", summary="List incidents", tags=["incidents"])
def list_incidents(
    status: Annotated[IncidentStatus | None, Query()] = None,
    severity: Annotated[Severity | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_INCIDENTS)] = 50,
    nextToken: Annotated[str | None, Query(min_length=1, max_length=4096)] = None,
    sort: Annotated[Literal["newest", "rank"], Query()] = "newest",
    *,
    tenant: TenantDep,
    svc: ServicesDep,
) -> IncidentPage:
    try:
        items, token = incident_store(svc).list(
            tenant,
            status=status.value if status else None,
            severity=severity.value if severity else None,
            limit=limit,
            next_token=nextToken,
        )
    except ValueError as exc:
        raise ApiError(
            HTTPStatus.BAD_REQUEST, "INVALID_PARAMETER", f"Invalid query parameter nextToken: {exc}"
        ) from None
    if sort == "rank":  # within the page: severity, then dollars at stake (estimatedCostUsd), then score
        items = sorted(items, key=rank_key, reverse=True)
    return IncidentPage(
        incidents=[i.public() for i in items], pagination=Pagination(nextToken=token, hasMore=token is not None)
    )


@router.get("/incidents/<incidentId>", summary="Get one incident", tags=["incidents"])
def get_incident(incidentId: IncidentId, tenant: TenantDep, svc: ServicesDep) -> dict[str, Any]:
    try:
        return incident_store(svc).get(tenant, incidentId).public()
    except LookupError:
        raise not_found("Incident", incidentId) from None


class ResolveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Annotated[str, StringConstraints(max_length=1000, strip_whitespace=True)] | None = None


@router.post("/incidents/<incidentId>/resolve", summary="Resolve an incident", tags=["incidents"])
def resolve_incident(
    incidentId: IncidentId, body: ResolveBody | None = None, *, tenant: TenantDep, svc: ServicesDep
) -> dict[str, Any]:
    raw = router.current_event.raw_event
    authorizer = (raw.get("requestContext") or {}).get("authorizer") or {}
    who = str(authorizer.get("sub") or "unknown")
    at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    note = (body.note if body else None) or ""
    repo = incident_store(svc)
    try:
        current = repo.get(tenant, incidentId)
    except LookupError:
        raise not_found("Incident", incidentId) from None
    if current.status != "RESOLVED":
        repo.set_status(tenant, incidentId, "RESOLVED", f"resolved by {who}: {note}"[:500], at)
    resolved = repo.get(tenant, incidentId).public()
    # Also on a repeated call (the first may have failed after the write): same delivery ids, receivers see it once.
    fan_out(svc.notifier(), tenant, "incident.resolved", resolved, resolved.get("severity"), incidentId)
    return resolved
