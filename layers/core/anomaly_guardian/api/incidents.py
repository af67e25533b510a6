"""GET /incidents (filters status, severity; pagination), GET /incidents/{incidentId} and
POST /incidents/{incidentId}/resolve, for the caller's tenant. The correlator opens and grows incidents;
an analyst closes one here (an anomaly on the same entity afterwards opens a new incident)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from enum import StrEnum
from http import HTTPStatus
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from anomaly_guardian.api.anomalies import ULID_PATTERN, Pagination
from anomaly_guardian.api.deps import tenant_of
from anomaly_guardian.api.errors import ApiError, not_found
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


class _Backends:
    """The incident repository and workflow client, built on first use (tests replace them)."""

    lock = threading.Lock()
    incidents: Any = None
    workflows: Any = None
    notifier: Any = None


def incident_repo() -> Any:
    if _Backends.incidents is None:
        with _Backends.lock:
            from anomaly_guardian.adapters.incidents import IncidentRepository

            _Backends.incidents = _Backends.incidents or IncidentRepository()
    return _Backends.incidents


def workflow_client() -> Any:
    if _Backends.workflows is None:
        with _Backends.lock:
            from anomaly_guardian.adapters.stepfunctions import Workflows

            _Backends.workflows = _Backends.workflows or Workflows()
    return _Backends.workflows


def notifier() -> Any:
    """What `response.notify.fan_out` needs: the Config table (webhooks) and the webhook queue."""
    if _Backends.notifier is None:
        with _Backends.lock:
            import os

            from anomaly_guardian.adapters.config_repo import ConfigRepository
            from anomaly_guardian.adapters.queues import Queue
            from anomaly_guardian.response.ports import Ports

            url = os.environ.get("WEBHOOK_QUEUE_URL")
            _Backends.notifier = _Backends.notifier or Ports(
                config=ConfigRepository(),
                audit=None,
                blocks=None,
                incidents=None,
                anomalies=None,
                webhook_queue=Queue(url) if url else None,
            )
    return _Backends.notifier


def use_backends(incidents: Any = None, workflows: Any = None, notify: Any = None) -> None:
    """Tests: inject, or None to rebuild from the environment on next use."""
    _Backends.incidents, _Backends.workflows, _Backends.notifier = incidents, workflows, notify


@router.get("/incidents", summary="List incidents", tags=["incidents"])
def list_incidents(
    status: Annotated[IncidentStatus | None, Query()] = None,
    severity: Annotated[Severity | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_INCIDENTS)] = 50,
    nextToken: Annotated[str | None, Query(min_length=1, max_length=4096)] = None,
    sort: Annotated[Literal["newest", "rank"], Query()] = "newest",
) -> IncidentPage:
    tenant = tenant_of(router.current_event.raw_event)
    try:
        items, token = incident_repo().list(
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
def get_incident(incidentId: IncidentId) -> dict[str, Any]:
    tenant = tenant_of(router.current_event.raw_event)
    try:
        return incident_repo().get(tenant, incidentId).public()
    except LookupError:
        raise not_found("Incident", incidentId) from None


class ResolveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Annotated[str, StringConstraints(max_length=1000, strip_whitespace=True)] | None = None


@router.post("/incidents/<incidentId>/resolve", summary="Resolve an incident", tags=["incidents"])
def resolve_incident(incidentId: IncidentId, body: ResolveBody | None = None) -> dict[str, Any]:
    raw = router.current_event.raw_event
    tenant = tenant_of(raw)
    authorizer = (raw.get("requestContext") or {}).get("authorizer") or {}
    who = str(authorizer.get("sub") or "unknown")
    at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    note = (body.note if body else None) or ""
    repo = incident_repo()
    try:
        current = repo.get(tenant, incidentId)
    except LookupError:
        raise not_found("Incident", incidentId) from None
    if current.status != "RESOLVED":
        repo.set_status(tenant, incidentId, "RESOLVED", f"resolved by {who}: {note}"[:500], at)
    resolved = repo.get(tenant, incidentId).public()
    # Also on a repeated call (the first may have failed after the write): same delivery ids, receivers see it once.
    fan_out(notifier(), tenant, "incident.resolved", resolved, resolved.get("severity"), incidentId)
    return resolved
