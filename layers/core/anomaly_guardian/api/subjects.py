"""DELETE /subjects/{userId}: GDPR erasure of one person within the caller's tenant, everywhere.

`erasure.service.SubjectEraser` does the work (docs/privacy.md): the person's anomalies (and through the
table stream their OpenSearch documents), detector state keyed by their user, IP and device pseudonyms,
dedupe markers of their events, every item of the tenant's Incidents / Audit / BlockList / Config
partitions that names them (deleted, or redacted where the record itself must stay), and every object
of the event archive and the model bucket holding their records (rewritten without them, older versions
deleted). The response lists in `notCovered` what is left (nothing stored); the audit record of the
erasure carries a receipt id and counts, never the person's id or pseudonym.
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
from anomaly_guardian.erasure.service import NOT_COVERED, ErasurePorts, SubjectEraser
from anomaly_guardian.ids import new_ulid
from anomaly_guardian.models.event import parse_event
from anomaly_guardian.state.store import state_key

router = Router()
_PROBE_TYPES = ("transaction", "login", "pageview", "api_request")


class ErasureResult(BaseModel):
    erasureId: str
    userPseudonym: str
    anomaliesDeleted: int
    stateItemsDeleted: int
    blockEntriesDeleted: int
    suppressionsDeleted: int = 0
    itemsDeleted: dict[str, int] = {}
    itemsRedacted: dict[str, int] = {}
    objectsRewritten: dict[str, int] = {}
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


@router.delete("/subjects/<userId>", summary="Erase a person's data everywhere (GDPR)", tags=["subjects"])
def erase_subject(
    userId: Annotated[str, Path(min_length=1, max_length=256)], tenant: TenantDep, svc: ServicesDep
) -> ErasureResult:
    eraser = svc.eraser or SubjectEraser(
        ErasurePorts(anomalies=svc.anomalies, state=svc.state, pseudonymiser=svc.pseudonymiser)
    )
    # `userId` is already percent-decoded once by the resolver (api.app), as API Gateway REST passes it encoded.
    report, _subject = eraser.erase(
        tenant, userId, extra_state_keys=lambda t, pseudonym: user_state_keys(t, pseudonym, svc.detectors())
    )
    erasure_id = f"er_{new_ulid()}"
    # The record of an erasure must not re-identify the person: a receipt id and counts only.
    record_audit(
        svc,
        router.current_event.raw_event,
        tenant,
        "subject.erase",
        erasure_id,
        anomaliesDeleted=report.anomaliesDeleted,
        stateItemsDeleted=report.stateItemsDeleted,
        itemsDeleted=report.itemsDeleted,
        itemsRedacted=report.itemsRedacted,
        objectsRewritten=report.objectsRewritten,
    )
    return ErasureResult(
        erasureId=erasure_id,
        userPseudonym=report.userPseudonym,
        anomaliesDeleted=report.anomaliesDeleted,
        stateItemsDeleted=report.stateItemsDeleted,
        blockEntriesDeleted=report.blockEntriesDeleted,
        suppressionsDeleted=report.suppressionsDeleted,
        itemsDeleted=report.itemsDeleted,
        itemsRedacted=report.itemsRedacted,
        objectsRewritten=report.objectsRewritten,
        notCovered=NOT_COVERED,
    )
