"""GET /anomalies (filters, signed pagination) and GET /anomalies/{anomalyId}, for the caller's tenant."""

from __future__ import annotations

import re
from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, Field

from anomaly_guardian.adapters.anomalies import MAX_LIMIT, InvalidNextToken
from anomaly_guardian.api.deps import Services, ServicesDep, TenantDep
from anomaly_guardian.api.errors import ApiError, not_found
from anomaly_guardian.models.anomaly import AnomalyType, Severity

router = Router()
ULID_PATTERN = r"^[0-9A-HJKMNP-TV-Z]{26}$"
PSEUDONYM = re.compile(r"^u_[0-9a-f]{24}$")
AnomalyId = Annotated[str, Path(pattern=ULID_PATTERN, description="ULID of the anomaly")]


class Pagination(BaseModel):
    nextToken: str | None = Field(description="opaque; pass back unchanged with the same filters")
    hasMore: bool


class AnomalyPage(BaseModel):
    anomalies: list[dict[str, Any]] = Field(description="anomaly records (docs/architecture.md, Anomaly), newest first")
    pagination: Pagination


def user_filter(svc: Services, tenant: str, user_id: str) -> str:
    """Analysts may pass the raw user id (pseudonymised here) or a pseudonym from an earlier response."""
    return user_id if PSEUDONYM.match(user_id) else svc.pseudonymiser.user(tenant, user_id)


@router.get("/anomalies", summary="List anomalies", tags=["anomalies"])
def list_anomalies(
    severity: Annotated[Severity | None, Query()] = None,
    fromDate: Annotated[datetime | None, Query(description="ISO 8601; inclusive")] = None,
    toDate: Annotated[datetime | None, Query(description="ISO 8601; inclusive")] = None,
    userId: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    anomalyType: Annotated[AnomalyType | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    nextToken: Annotated[str | None, Query(min_length=1, max_length=4096)] = None,
    *,
    tenant: TenantDep,
    svc: ServicesDep,
) -> AnomalyPage:
    if fromDate and toDate and fromDate > toDate:
        raise ApiError(HTTPStatus.BAD_REQUEST, "INVALID_PARAMETER", "Invalid query parameter fromDate: after toDate")
    try:
        items, token = svc.anomalies.query(
            tenant,
            severity=severity.value if severity else None,
            from_date=fromDate,
            to_date=toDate,
            user_id=user_filter(svc, tenant, userId) if userId else None,
            anomaly_type=anomalyType.value if anomalyType else None,
            limit=limit,
            next_token=nextToken,
        )
    except InvalidNextToken as exc:
        raise ApiError(
            HTTPStatus.BAD_REQUEST, "INVALID_NEXT_TOKEN", f"Invalid query parameter nextToken: {exc}"
        ) from None
    return AnomalyPage(anomalies=items, pagination=Pagination(nextToken=token, hasMore=token is not None))


@router.get("/anomalies/<anomalyId>", summary="Get one anomaly", tags=["anomalies"])
def get_anomaly(anomalyId: AnomalyId, tenant: TenantDep, svc: ServicesDep) -> dict[str, Any]:
    item = svc.anomalies.get(tenant, anomalyId)
    if item is None:
        raise not_found("Anomaly", anomalyId)
    return item
