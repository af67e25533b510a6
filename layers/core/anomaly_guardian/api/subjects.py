"""DELETE /subjects/{userId}: GDPR erasure of one person within the caller's tenant.

Erased: every anomaly stored under the person's pseudonym (Anomalies table, via the gsi1 user index),
the detector state keyed by that pseudonym (found by asking every registered detector which
state keys an event of this user would touch, plus the rule engine's window), and the person's
user block and step-up/monitoring flags in the BlockList table. Not covered here and
documented in the response: state keyed by IP/device/session rather than user, incidents and audit
records that reference the pseudonym, OpenSearch documents and model training snapshots (those age
out with their TTL/retention).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import BaseModel

from anomaly_guardian.api.deps import ServicesDep, TenantDep, record_audit
from anomaly_guardian.detection.base import PreparedEvent
from anomaly_guardian.detection.rules import STATE_KIND as RULES_STATE_KIND
from anomaly_guardian.models.event import parse_event
from anomaly_guardian.state.store import state_key

router = Router()
NOT_COVERED = [
    "state keyed by IP address, device or session rather than the user",
    "incidents and audit records referencing the pseudonym (expire with their TTL)",
    "model training snapshots (expire with snapshot retention); OpenSearch documents follow the anomaly"
    " deletions through the table stream (search_indexer)",
]
_PROBE_TYPES = ("transaction", "login", "pageview", "api_request")


class ErasureResult(BaseModel):
    userPseudonym: str
    anomaliesDeleted: int
    stateItemsDeleted: int
    blockEntriesDeleted: int
    suppressionsDeleted: int = 0
    notCovered: list[str]


def user_state_keys(tenant: str, pseudonym: str, detectors: list[Any]) -> set[str]:
    """Every state key a detector would load for this user, restricted to keys naming the pseudonym."""
    keys = {state_key(tenant, RULES_STATE_KIND, pseudonym)}
    for event_type in _PROBE_TYPES:
        probe = parse_event(
            {
                "eventId": "erasure-probe",
                "userId": "erasure-probe",
                "eventType": event_type,
                "timestamp": datetime.now(UTC).isoformat(),
                "transactionAmount": 1.0,
                "requestsPerSecond": 1.0,
                "sessionLength": 1.0,
                "sessionId": "s",
                "userAgent": "probe",
            }
        )
        prepared = PreparedEvent(tenant=tenant, event=probe, epoch=probe.epoch, user=pseudonym, ip=None, device=None)
        for detector in detectors:
            try:
                keys.update(k for k in detector.state_keys(prepared) if pseudonym in k)
            except Exception:  # noqa: S112 - a detector that cannot answer for a probe is skipped
                continue
    return {k for k in keys if k.startswith(f"{tenant}#")}


@router.delete("/subjects/<userId>", summary="Erase a person's data (GDPR)", tags=["subjects"])
def erase_subject(
    userId: Annotated[str, Path(min_length=1, max_length=256)], tenant: TenantDep, svc: ServicesDep
) -> ErasureResult:
    pseudonym = svc.pseudonymiser.user(tenant, userId)
    deleted = svc.anomalies.delete_user(tenant, pseudonym)
    keys = sorted(user_state_keys(tenant, pseudonym, svc.detectors()))
    state_deleted = sum(svc.state.delete_prefix(k) for k in keys)
    blocks_deleted = svc.blocklist.erase_user(tenant, pseudonym) if svc.blocklist is not None else 0
    suppressions_deleted = svc.config.erase_user_suppressions(tenant, pseudonym)
    # The audit keeps the pseudonym only: the record of an erasure must not re-identify the person.
    record_audit(
        svc,
        router.current_event.raw_event,
        tenant,
        "subject.erase",
        pseudonym,
        anomaliesDeleted=deleted,
        stateItemsDeleted=state_deleted,
        blockEntriesDeleted=blocks_deleted,
        suppressionsDeleted=suppressions_deleted,
    )
    return ErasureResult(
        userPseudonym=pseudonym,
        anomaliesDeleted=deleted,
        stateItemsDeleted=state_deleted,
        blockEntriesDeleted=blocks_deleted,
        suppressionsDeleted=suppressions_deleted,
        notCovered=NOT_COVERED,
    )
