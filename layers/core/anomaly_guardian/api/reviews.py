"""GET /reviews (status filter), GET /reviews/{reviewId} and POST /reviews/{reviewId}: approve or reject a
manual review, resuming the waiting remediation. The task token never leaves the service.

The review moves PENDING -> APPROVED/REJECTED with a conditional write first, so two analysts
cannot make different decisions (repeating the same decision is idempotent); then the task token is
resumed (SendTaskSuccess for approve, SendTaskFailure `ReviewRejected` for reject). The reviewer comes
from the token, not the body.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from http import HTTPStatus
from typing import Annotated, Any, Literal

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, ConfigDict, StringConstraints

from anomaly_guardian.adapters.stepfunctions import ResumeFailed, TaskTokenGone
from anomaly_guardian.api.deps import ServicesDep, TenantDep, require
from anomaly_guardian.api.errors import ApiError, not_found
from anomaly_guardian.api.incidents import incident_store
from anomaly_guardian.response.correlation import ConcurrentUpdate

router = Router()
logger = Logger(child=True)
ReviewId = Annotated[str, Path(pattern=r"^rv_[0-9A-HJKMNP-TV-Z]{26}$", description="id from the review alert")]


class ReviewDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"]
    note: Annotated[str, StringConstraints(max_length=1000, strip_whitespace=True)] | None = None


class ReviewResult(BaseModel):
    reviewId: str
    status: Literal["APPROVED", "REJECTED"]
    anomalyId: str | None = None
    incidentId: str | None = None
    decidedAt: str


class ReviewStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"


@router.get("/reviews", summary="List manual reviews (newest first)", tags=["reviews"])
def list_reviews(
    status: Annotated[ReviewStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    *,
    tenant: TenantDep,
    svc: ServicesDep,
) -> dict[str, Any]:
    items = incident_store(svc).list_reviews(tenant, status.value if status else None, limit)
    return {"reviews": items}


@router.get("/reviews/<reviewId>", summary="Get one manual review", tags=["reviews"])
def get_review(reviewId: ReviewId, tenant: TenantDep, svc: ServicesDep) -> dict[str, Any]:
    try:
        review = incident_store(svc).get_review(tenant, reviewId)
    except LookupError:
        raise not_found("Review", reviewId) from None
    return {k: v for k, v in review.items() if k not in ("pk", "sk", "taskToken", "ttl")}


@router.post("/reviews/<reviewId>", summary="Approve or reject a manual review", tags=["reviews"])
def decide(reviewId: ReviewId, body: ReviewDecision, tenant: TenantDep, svc: ServicesDep) -> ReviewResult:
    raw = router.current_event.raw_event
    authorizer = (raw.get("requestContext") or {}).get("authorizer") or {}
    reviewer = str(authorizer.get("sub") or (authorizer.get("claims") or {}).get("sub") or "unknown")
    at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    repo = incident_store(svc)
    workflows = require(svc.workflows, "The remediation workflow", "REMEDIATION_STATE_MACHINE_ARN")
    status = "APPROVED" if body.decision == "approve" else "REJECTED"
    repeat = False
    try:
        review = repo.decide_review(tenant, reviewId, body.decision, reviewer, body.note or "", at)
    except LookupError:
        raise not_found("Review", reviewId) from None
    except ConcurrentUpdate as exc:
        # The same decision again (a client retry after a lost response, or after a crash between the write
        # and the resume) is idempotent: resume once more. A different decision is a conflict.
        review = repo.get_review(tenant, reviewId)
        if review.get("status") != status:
            raise ApiError(HTTPStatus.CONFLICT, "CONFLICT", str(exc)) from None
        repeat, at = True, str(review.get("decidedAt") or at)
    output = {"decision": body.decision, "reviewId": reviewId, "reviewer": reviewer, "note": body.note or ""}
    try:
        if body.decision == "approve":
            workflows.succeed(review["taskToken"], output)
        else:
            workflows.fail(review["taskToken"], "ReviewRejected", json.dumps(output))
    except TaskTokenGone as exc:
        if not repeat:
            logger.warning("review no longer waiting", review_id=reviewId, error_code=str(exc))
            repo.expire_review(tenant, reviewId)
            raise ApiError(HTTPStatus.CONFLICT, "REVIEW_EXPIRED", f"Review {reviewId} is no longer waiting") from None
        # a repeat whose first resume went through: nothing left to do
    except ResumeFailed as exc:
        logger.warning("review resume failed", review_id=reviewId, error_code=str(exc))
        if not repeat:
            repo.reopen_review(tenant, reviewId)
        raise ApiError(HTTPStatus.SERVICE_UNAVAILABLE, "RETRY", "Could not resume the workflow; try again") from None
    return ReviewResult(
        reviewId=reviewId,
        status=status,
        anomalyId=review.get("anomalyId"),
        incidentId=review.get("incidentId"),
        decidedAt=at,
    )
