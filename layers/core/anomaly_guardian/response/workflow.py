"""The remediation workflow's task steps (statemachines/remediation.asl.json), one function per `op`.

The state machine owns ordering, retries, waiting and failure routing; these steps own the
decisions and the writes. Every step is safe to run twice (the workflow retries them).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from anomaly_guardian.models.anomaly import utc_now_iso
from anomaly_guardian.response.actions import ActionFailed, ActionInProgress, execute
from anomaly_guardian.response.correlation import SEVERITY_RANK
from anomaly_guardian.response.notify import alert, anomaly_view, fan_out
from anomaly_guardian.response.planning import plan_actions

if TYPE_CHECKING:
    from anomaly_guardian.response.ports import Ports

log = Logger(child=True)
REVIEW_TTL_SECONDS = 14 * 86400


def _tenant(event: Mapping[str, Any]) -> str:
    tenant = event.get("tenantId")
    if not tenant:
        raise ActionFailed("task input has no tenantId")
    return str(tenant)


def review_id_for(anomaly_id: str) -> str:
    return f"rv_{anomaly_id}"


def plan(ports: Ports, event: Mapping[str, Any]) -> dict[str, Any]:
    """Actions for the anomaly: per-type defaults + the rules it matched; severity includes the incident's."""
    anomaly = event.get("anomaly") or {}
    if not anomaly.get("anomalyId") or not anomaly.get("anomalyType"):
        raise ActionFailed("task input has no anomaly with anomalyId and anomalyType")
    result = plan_actions(anomaly, anomaly.get("matchedRules") or ())
    severities = [str(anomaly.get("severity", "LOW")), str(event.get("incidentSeverity") or "LOW")]
    result["severity"] = max(severities, key=lambda s: SEVERITY_RANK.get(s, 0))
    return result


def run_action(ports: Ports, event: Mapping[str, Any]) -> dict[str, Any]:
    return execute(ports, event)


def open_review(ports: Ports, event: Mapping[str, Any]) -> dict[str, Any]:
    """Store the task token in a review record; POST /reviews/{reviewId} resumes the workflow."""
    tenant = _tenant(event)
    anomaly = event.get("anomaly") or {}
    token = event.get("taskToken")
    if not token:
        raise ActionFailed("open_review needs the task token ($$.Task.Token)")
    review_id = review_id_for(anomaly["anomalyId"])
    review = {
        "reviewId": review_id,
        "tenantId": tenant,
        "status": "PENDING",
        "anomalyId": anomaly["anomalyId"],
        "incidentId": event.get("incidentId"),
        "taskToken": token,
        "createdAt": utc_now_iso(),
        "summary": anomaly.get("description", "")[:500],
        "proposedActions": [a["type"] for a in (event.get("plan") or {}).get("afterApproval", [])],
        "heldEventId": (anomaly.get("originalEvent") or {}).get("eventId"),
    }
    ports.incidents.put_review(review, ttl=int(time.time()) + REVIEW_TTL_SECONDS)
    # What already happened (the hold) shows on the anomaly now, not only after a decision days later.
    _once(
        ports, tenant, f"{anomaly['anomalyId']}#record-immediate#live", lambda: _record_immediate(ports, tenant, event)
    )
    alert(
        ports,
        tenant,
        "review.requested",
        str(anomaly.get("severity", "HIGH")),
        f"Review {review_id} needs a decision",
        {k: v for k, v in review.items() if k != "taskToken"},
    )
    return {"reviewId": review_id}


def _record_immediate(ports: Ports, tenant: str, event: Mapping[str, Any]) -> dict[str, Any]:
    pending = {"type": "manual_review", "status": "pending", "at": utc_now_iso()}
    performed = [*_compact(event.get("results")), pending]
    _append_actions(ports, tenant, (event.get("anomaly") or {}).get("anomalyId"), performed)
    return {"recorded": len(performed)}


def apply_review(ports: Ports, event: Mapping[str, Any]) -> dict[str, Any]:
    """After the decision: approve confirms the hold; reject releases it and resolves the anomaly."""
    tenant = _tenant(event)
    anomaly = event.get("anomaly") or {}
    decision = str((event.get("review") or {}).get("decision", "reject"))
    event_id = (anomaly.get("originalEvent") or {}).get("eventId")
    hold = ports.blocks.get(tenant, f"HOLD#{event_id}") if event_id else None
    if decision == "approve":
        if hold:
            ports.blocks.update(tenant, f"HOLD#{event_id}", {"status": "CONFIRMED", "decidedAt": utc_now_iso()})
        outcome = {"type": "manual_review", "status": "approved", "at": utc_now_iso()}
    else:
        if hold:
            ports.blocks.delete(tenant, f"HOLD#{event_id}")
        outcome = {"type": "manual_review", "status": "rejected", "holdReleased": bool(hold), "at": utc_now_iso()}
        fan_out(
            ports,
            tenant,
            "anomaly.resolved",
            anomaly_view(anomaly) | {"resolution": "rejected_in_review"},
            None,
            anomaly.get("anomalyId"),
        )
    ports.audit.record(
        tenant,
        {
            "action": "manual_review",
            "subjectId": anomaly.get("anomalyId"),
            "result": outcome["status"],
            "dryRun": False,
        },
    )
    return outcome


def _compact(results: Any) -> list[dict[str, Any]]:
    out = []
    for r in results or []:
        if isinstance(r, Mapping):
            out.append({k: r[k] for k in ("type", "status", "dryRun", "at", "reason", "expiresAt", "source") if k in r})
    return out


def _once(ports: Ports, tenant: str, key: str, step: Any) -> dict[str, Any]:
    """Run a step with side effects at most once per anomaly (the workflow may retry the task)."""
    previous = ports.audit.claim(tenant, key)
    if previous is not None:
        if previous.get("status") == "DONE":
            return dict(previous.get("result") or {}) | {"duplicate": True}
        raise ActionInProgress(f"{key} is already running")
    try:
        result = step()
    except Exception:
        ports.audit.release(tenant, key)
        raise
    ports.audit.complete(tenant, key, result)
    return result


def record(ports: Ports, event: Mapping[str, Any]) -> dict[str, Any]:
    """Write what was done onto the anomaly (`actionsPerformed`) and the incident's status (once)."""
    tenant = _tenant(event)
    key = f"{(event.get('anomaly') or {}).get('anomalyId')}#record#live"
    return _once(ports, tenant, key, lambda: _record(ports, tenant, event))


def _record(ports: Ports, tenant: str, event: Mapping[str, Any]) -> dict[str, Any]:
    anomaly = event.get("anomaly") or {}
    if event.get("reviewOutcome"):  # the immediate results were recorded when the review opened
        performed = _compact(event.get("approvedResults")) + _compact([event["reviewOutcome"]])
    else:
        performed = _compact(event.get("results")) + _compact(event.get("approvedResults"))
    _append_actions(ports, tenant, anomaly.get("anomalyId"), performed)
    if event.get("incidentId"):
        done = [p["type"] for p in performed if p.get("status") == "done"]
        reason = "actions: " + (", ".join(done) if done else "none (dry-run, skipped or notify only)")
        ports.incidents.set_status(tenant, event["incidentId"], "MITIGATED", reason, utc_now_iso())
    return {"recorded": len(performed)}


def fail(ports: Ports, event: Mapping[str, Any]) -> dict[str, Any]:
    """The Catch path: mark the incident, note it on the anomaly, alert a person (once)."""
    tenant = _tenant(event)
    key = f"{(event.get('anomaly') or {}).get('anomalyId')}#fail#live"
    return _once(ports, tenant, key, lambda: _fail(ports, tenant, event))


def _fail(ports: Ports, tenant: str, event: Mapping[str, Any]) -> dict[str, Any]:
    anomaly = event.get("anomaly") or {}
    error = event.get("error") or {}
    reason = f"{error.get('Error', 'Error')}: {str(error.get('Cause', ''))[:300]}"
    if event.get("incidentId"):
        ports.incidents.set_status(tenant, event["incidentId"], "REMEDIATION_FAILED", reason, utc_now_iso())
    _append_actions(
        ports, tenant, anomaly.get("anomalyId"), [{"type": "remediation", "status": "failed", "at": utc_now_iso()}]
    )
    ports.audit.record(
        tenant,
        {"action": "remediation", "subjectId": anomaly.get("anomalyId"), "result": "failed", "error": reason},
    )
    alert(
        ports,
        tenant,
        "remediation.failed",
        "HIGH",
        "Remediation failed",
        {"anomalyId": anomaly.get("anomalyId"), "incidentId": event.get("incidentId"), "error": reason},
    )
    return {"failed": True, "reason": reason}


def _append_actions(ports: Ports, tenant: str, anomaly_id: str | None, performed: list[dict[str, Any]]) -> None:
    if not anomaly_id or not performed:
        return
    try:
        ports.anomalies.update_actions(tenant, anomaly_id, performed)
    except LookupError:  # AnomalyNotFound
        # Erased meanwhile (DELETE /subjects) or never stored: the audit table still has the record.
        log.warning("anomaly %s not found; actionsPerformed not updated", anomaly_id)


OPS = {
    "plan": plan,
    "execute": run_action,
    "open_review": open_review,
    "apply_review": apply_review,
    "record": record,
    "fail": fail,
}


def handle(ports: Ports, event: Mapping[str, Any]) -> dict[str, Any]:
    op = event.get("op")
    if op not in OPS:
        raise ActionFailed(f"unknown op {op!r}; expected one of {sorted(OPS)}")
    return OPS[op](ports, event)
