"""GET /incidents (filters status, severity; pagination) and GET /incidents/{incidentId}, for the
caller's tenant. Incidents are written by the correlator; this router only reads."""

from __future__ import annotations

import threading
from enum import StrEnum
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, Field

from anomaly_guardian.api.anomalies import ULID_PATTERN, Pagination
from anomaly_guardian.api.deps import tenant_of
from anomaly_guardian.api.errors import ApiError, not_found
from anomaly_guardian.models.anomaly import Severity

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


def use_backends(incidents: Any = None, workflows: Any = None) -> None:
    """Tests: inject, or None to rebuild from the environment on next use."""
    _Backends.incidents, _Backends.workflows = incidents, workflows


@router.get("/incidents", summary="List incidents", tags=["incidents"])
def list_incidents(
    status: Annotated[IncidentStatus | None, Query()] = None,
    severity: Annotated[Severity | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_INCIDENTS)] = 50,
    nextToken: Annotated[str | None, Query(min_length=1, max_length=4096)] = None,
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
