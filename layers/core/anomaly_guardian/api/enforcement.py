"""What the response put in force, for the customer's own systems to query (caller's tenant only):

- GET /enforcement/users/{userId}: is the user blocked, must they pass step-up verification, are they
  under enhanced monitoring (each with its expiry). The raw user id is pseudonymised here, exactly as
  ingest does, so callers never need to know pseudonyms.
- GET /enforcement/holds/{eventId}: is this transaction held (HELD, CONFIRMED after review approval)
  or not held (404 once released, expired or never held).
Expired items count as absent even before DynamoDB's TTL deletes them.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import BaseModel

from anomaly_guardian.api.deps import ServicesDep, TenantDep, require
from anomaly_guardian.api.errors import not_found

router = Router()
UserId = Annotated[str, Path(min_length=1, max_length=256, description="the user id as your systems send it")]
EventId = Annotated[str, Path(min_length=1, max_length=256, description="eventId of the held transaction")]


class Restriction(BaseModel):
    active: bool
    expiresAt: int | None = None
    anomalyId: str | None = None


class UserEnforcement(BaseModel):
    userPseudonym: str
    blocked: Restriction
    stepUpRequired: Restriction
    enhancedMonitoring: Restriction


def _restriction(item: dict[str, Any] | None, now: float) -> Restriction:
    if not item or int(item.get("expiresAt", 0)) <= now:
        return Restriction(active=False)
    return Restriction(active=True, expiresAt=int(item["expiresAt"]), anomalyId=item.get("anomalyId"))


@router.get("/enforcement/users/<userId>", summary="Restrictions in force for a user", tags=["enforcement"])
def user_enforcement(userId: UserId, tenant: TenantDep, svc: ServicesDep) -> UserEnforcement:
    pseudonym = svc.pseudonymiser.user(tenant, userId)
    repo, now = require(svc.blocklist, "The block list", "BLOCKLIST_TABLE"), time.time()
    return UserEnforcement(
        userPseudonym=pseudonym,
        blocked=_restriction(repo.get(tenant, f"USER#{pseudonym}"), now),
        stepUpRequired=_restriction(repo.get(tenant, f"FLAG#stepup#{pseudonym}"), now),
        enhancedMonitoring=_restriction(repo.get(tenant, f"FLAG#monitor#{pseudonym}"), now),
    )


@router.get("/enforcement/holds/<eventId>", summary="Hold status of a transaction", tags=["enforcement"])
def hold_status(eventId: EventId, tenant: TenantDep, svc: ServicesDep) -> dict[str, Any]:
    item = require(svc.blocklist, "The block list", "BLOCKLIST_TABLE").get(tenant, f"HOLD#{eventId}")
    if not item or int(item.get("expiresAt", 0)) <= time.time():
        raise not_found("Hold for event", eventId)
    return {
        "eventId": eventId,
        "status": item.get("status", "HELD"),
        "expiresAt": int(item["expiresAt"]),
        "anomalyId": item.get("anomalyId"),
        "heldAt": item.get("heldAt"),
    }
