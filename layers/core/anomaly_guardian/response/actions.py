"""The response actions and the rails they all run through.

`execute(ports, request)` is what the remediation workflow's action task calls for one planned
action. In order: kill switch -> idempotency claim -> dry-run -> blast-radius cap -> effect ->
audit record. Each action has `describe` (what it would do: the dry-run output) and `apply`
(do it); both return the same shape, so a dry run shows exactly what a live run would change.

Errors: `TransientActionError` (throttling, 5xx, lock contention) is retried by the workflow's
Retry; `ActionFailed` (bad input, missing resource) goes straight to its Catch.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from anomaly_guardian.errors import is_transient
from anomaly_guardian.models.anomaly import utc_now_iso
from anomaly_guardian.privacy import truncate_ip
from anomaly_guardian.response.notify import alert, anomaly_view, fan_out
from anomaly_guardian.response.planning import ACTION_TYPES
from anomaly_guardian.response.safety import ResponseSettings
from anomaly_guardian.usage.alerts import alert_context

if TYPE_CHECKING:
    from anomaly_guardian.response.ports import Ports

log = Logger(child=True)


class TransientActionError(RuntimeError):
    """Worth retrying (the workflow's Retry matches this class name)."""


class ActionInProgress(RuntimeError):
    """The claim is held by an attempt that may still be running; the workflow waits (30 s, 60 s, ...)
    until the claim is either completed or stale (a crashed attempt) and can be taken over."""


class ActionFailed(RuntimeError):
    """Will not get better by retrying (the workflow's Catch handles it)."""


@dataclass
class Request:
    tenant: str
    action: str
    parameters: dict[str, Any]
    source: str
    anomaly: dict[str, Any]
    incident_id: str | None
    subject_ip: str | None
    severity: str

    @property
    def subject_id(self) -> str:
        return self.anomaly.get("anomalyId") or self.incident_id or "unknown"

    @classmethod
    def parse(cls, event: Mapping[str, Any]) -> Request:
        try:
            spec = event["action"]
            anomaly = dict(event["anomaly"])
            tenant = str(event["tenantId"])
            action = str(spec["type"])
        except (KeyError, TypeError) as exc:
            raise ActionFailed(f"action request is missing {exc}") from None
        if action not in ACTION_TYPES:
            raise ActionFailed(f"unsupported action type {action!r}")
        if anomaly.get("tenantId") not in (None, tenant):
            raise ActionFailed("anomaly belongs to another tenant")
        return cls(
            tenant=tenant,
            action=action,
            parameters=dict(spec.get("parameters") or {}),
            source=str(spec.get("source", "default")),
            anomaly=anomaly,
            incident_id=event.get("incidentId"),
            subject_ip=event.get("subjectIp"),
            severity=str(event.get("severity") or anomaly.get("severity") or "LOW"),
        )

    def expires_at(self, now: float) -> int:
        minutes = float(self.parameters.get("durationMinutes", 60))
        if not 1 <= minutes <= 30 * 24 * 60:
            raise ActionFailed(f"{self.action}: durationMinutes must be between 1 and 43200, got {minutes:g}")
        return int(now + minutes * 60)


def _valid_ip(value: str | None) -> str | None:
    if not value:
        return None
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return None
    return str(ip) if ip.is_global else None


# ---- the actions: (describe, apply) ---------------------------------------------------------------


def _rate_limit(ports: Ports, req: Request, now: float, live: bool) -> dict[str, Any]:
    ip = _valid_ip(req.subject_ip)
    user = req.anomaly.get("userId")
    expires = req.expires_at(now)
    detail = {"ip": ip, "user": user, "expiresAt": expires, "waf": bool(ip and ports.waf is not None)}
    if not live:
        return detail
    why = {"anomalyId": req.subject_id, "reason": req.anomaly.get("description", "")[:300], "blockedAt": utc_now_iso()}
    if ip:
        # Block-list item first: the expiry sweep reconciles WAF against it, never the other way round.
        ports.blocks.put(req.tenant, f"IP#{ip}", expires, why | {"kind": "ip", "ip": ip})
        if ports.waf is not None:
            ports.waf.add([ip])
    if user:
        ports.blocks.put(req.tenant, f"USER#{user}", expires, why | {"kind": "user", "userId": user})
    return detail


def _hold_transaction(ports: Ports, req: Request, now: float, live: bool) -> dict[str, Any]:
    event_id = (req.anomaly.get("originalEvent") or {}).get("eventId")
    if not event_id:
        raise ActionFailed("hold_transaction: the anomaly has no originalEvent.eventId to hold")
    expires = req.expires_at(now)
    detail = {"eventId": event_id, "status": "HELD", "expiresAt": expires}
    if live:
        ports.blocks.put(
            req.tenant,
            f"HOLD#{event_id}",
            expires,
            {
                "kind": "hold",
                "eventId": event_id,
                "userId": req.anomaly.get("userId"),
                "anomalyId": req.subject_id,
                "status": "HELD",
                "amount": (req.anomaly.get("originalEvent") or {}).get("transactionAmount"),
                "heldAt": utc_now_iso(),
            },
        )
    return detail


def _flag(kind: str, ports: Ports, req: Request, now: float, live: bool, extra: dict[str, Any]) -> dict[str, Any]:
    user = req.anomaly.get("userId")
    if not user:
        raise ActionFailed(f"{kind}: the anomaly names no user")
    expires = req.expires_at(now)
    detail = {"userId": user, "expiresAt": expires} | extra
    if live:
        ports.blocks.put(
            req.tenant,
            f"FLAG#{kind}#{user}",
            expires,
            {"kind": kind, "userId": user, "anomalyId": req.subject_id, "setAt": utc_now_iso()} | extra,
        )
    return detail


def _step_up_auth(ports: Ports, req: Request, now: float, live: bool) -> dict[str, Any]:
    detail = _flag("stepup", ports, req, now, live, {"reason": req.anomaly.get("anomalyType", "")})
    if live and ports.bus is not None:
        ports.bus.put("user.step_up_required", [{"tenantId": req.tenant} | detail | {"anomalyId": req.subject_id}])
    return detail


def _enhanced_monitoring(ports: Ports, req: Request, now: float, live: bool) -> dict[str, Any]:
    factor = float(req.parameters.get("thresholdFactor", 0.5))
    sample = float(req.parameters.get("sampleRate", 1.0))
    if not (0 < factor <= 1 and 0 < sample <= 1):
        raise ActionFailed("enhanced_monitoring: thresholdFactor and sampleRate must be in (0, 1]")
    return _flag("monitor", ports, req, now, live, {"thresholdFactor": factor, "sampleRate": sample})


def _scale(ports: Ports, req: Request, now: float, live: bool) -> dict[str, Any]:
    event = req.anomaly.get("originalEvent") or {}
    service = req.parameters.get("service") or event.get("service")
    if not service:
        raise ActionFailed("scale: no service to scale (set parameters.service or send metric events)")
    direction = str(req.parameters.get("direction", "out"))
    if direction not in ("out", "in"):
        raise ActionFailed(f"scale: direction must be 'out' or 'in', got {direction!r}")
    detail = {"service": service, "metricName": event.get("metricName"), "direction": direction}
    detail["by"] = int(req.parameters.get("by", 1))
    if live:
        if ports.bus is None:
            raise ActionFailed("scale: EVENT_BUS_NAME is not configured")
        # A scaling *request* on the bus: the owner's rule (or Application Auto Scaling target) acts on it.
        ports.bus.put("scale.requested", [{"tenantId": req.tenant, "anomalyId": req.subject_id} | detail])
    return detail


def _notify(ports: Ports, req: Request, now: float, live: bool) -> dict[str, Any]:
    severity = req.severity
    hooks = [h for h in ports.config.list_webhooks(req.tenant) if h.get("enabled", True)]
    detail: dict[str, Any] = {"severity": severity, "sns": ports.alerts is not None, "webhooksConsidered": len(hooks)}
    subject = f"[{severity}] {req.anomaly.get('anomalyType', 'anomaly')} anomaly"
    estimate = req.anomaly.get("costEstimate")
    if isinstance(estimate, dict) and estimate.get("text"):  # usage spikes priced by the detector
        subject = f"{subject}: {estimate['text']}"
    elif req.anomaly.get("anomalyType") == "cost" and req.anomaly.get("description"):
        # "[CRITICAL] EC2 cost anomaly: $3,120.00 above expected": what Cost Explorer measured (the
        # actual/expected figures, days and root cause are in the message's description)
        subject = f"[{severity}] {str(req.anomaly['description']).split(' (', 1)[0]}"
    detail["subject"] = subject[:100]  # what the alert says (a dry run records what it would have said)
    if not live:
        return detail
    data = anomaly_view(req.anomaly) | ({"incidentId": req.incident_id} if req.incident_id else {})
    if isinstance(estimate, dict) and estimate.get("text"):
        data["costEstimate"] = estimate
    message = data
    links = getattr(ports, "alert_links", None)
    usage = alert_context(req.anomaly | {"anomalyId": req.subject_id}, links) if links is not None else {}
    if usage:  # enriched usage alert: who, where, the calls behind it, links, signed one-click actions
        message = data | usage
        principal = str((usage["usage"].get("principal") or {}).get("arn") or "")
        if principal:  # "[HIGH] usage anomaly by deploy-bot: about $72 per hour..." (SNS subjects: 100 chars)
            who = principal.rsplit("/", 1)[-1] if "/" in principal else principal
            cost = f": {estimate['text']}" if isinstance(estimate, dict) and estimate.get("text") else ""
            subject = f"[{severity}] usage anomaly by {who}{cost}"
        data = data | {"links": usage["links"]}  # webhooks: the links, not the signed actions
    detail["subject"] = subject[:100]
    detail["snsMessageId"] = alert(ports, req.tenant, "anomaly.detected", severity, subject[:100], message)
    detail["webhooksQueued"] = fan_out(ports, req.tenant, "anomaly.detected", data, severity, req.subject_id)
    return detail


ACTIONS: dict[str, Callable[[Any, Request, float, bool], dict[str, Any]]] = {
    "rate_limit": _rate_limit,
    "hold_transaction": _hold_transaction,
    "step_up_auth": _step_up_auth,
    "enhanced_monitoring": _enhanced_monitoring,
    "scale": _scale,
    "notify": _notify,
}


# ---- the rails ------------------------------------------------------------------------------------


def redact(result: dict[str, Any]) -> dict[str, Any]:
    """What is kept for months (audit, claims): the source IP only as its /24 (/48), like other storage."""
    detail = result.get("detail")
    if not isinstance(detail, dict) or not detail.get("ip"):
        return result
    return result | {"detail": detail | {"ip": truncate_ip(detail["ip"])}}


def execute(ports: Ports, event: Mapping[str, Any], now: float | None = None) -> dict[str, Any]:
    """Run one planned action through the rails; returns the `actionsPerformed` entry."""
    req = Request.parse(event)
    now = time.time() if now is None else now
    settings = ResponseSettings.from_item(ports.config.get_settings(req.tenant), ports.global_dry_run)
    dry = settings.dry_run_for(req.action, bool(req.parameters.get("dryRun", False)))
    base = {"type": req.action, "source": req.source, "dryRun": dry, "at": utc_now_iso()}
    audit = {
        "action": req.action,
        "subjectId": req.subject_id,
        "incidentId": req.incident_id,
        "anomalyType": req.anomaly.get("anomalyType"),
        "reason": (req.anomaly.get("description") or "")[:500],
        "source": req.source,
        "dryRun": dry,
    }

    def finish(result: dict[str, Any], key: str | None) -> dict[str, Any]:
        stored = redact(result)
        ports.audit.record(req.tenant, audit | {"result": result["status"], "detail": stored.get("detail", {})})
        if key:
            ports.audit.complete(req.tenant, key, stored)
        log.info("action %s %s", req.action, result["status"], extra={"tenant": req.tenant, "dryRun": dry})
        return result

    if settings.kill_switch:
        return finish(base | {"status": "skipped", "reason": "kill_switch"}, None)

    key = f"{req.subject_id}#{req.action}#{'dry' if dry else 'live'}"
    previous = ports.audit.claim(req.tenant, key, now)
    if previous is not None:
        if previous.get("status") == "DONE" and previous.get("result"):
            return dict(previous["result"]) | {"duplicate": True}
        raise ActionInProgress(f"{req.action} for {req.subject_id} is already running")

    run = ACTIONS[req.action]
    try:
        if dry:
            return finish(base | {"status": "dry_run", "detail": run(ports, req, now, False)}, key)
        if not ports.audit.take_capacity(req.tenant, req.action, settings.cap_for(req.action), now):
            result = base | {"status": "skipped", "reason": "blast_radius_cap", "cap": settings.cap_for(req.action)}
            alert(ports, req.tenant, "response.capped", "HIGH", f"{req.action} cap reached", result)
            return finish(result, key)
    except Exception:
        ports.audit.release(req.tenant, key)
        raise
    try:
        detail = run(ports, req, now, True)
    except Exception as exc:
        ports.audit.give_back(req.tenant, req.action, now)
        ports.audit.release(req.tenant, key)
        transient = is_transient(exc)
        ports.audit.record(req.tenant, audit | {"result": "failed", "error": f"{type(exc).__name__}: {exc}"[:500]})
        if transient:
            raise TransientActionError(f"{req.action}: {exc}") from exc
        if isinstance(exc, ActionFailed):
            raise
        raise ActionFailed(f"{req.action}: {type(exc).__name__}: {exc}") from exc
    expires = detail.get("expiresAt")
    return finish(base | {"status": "done", "detail": detail} | ({"expiresAt": expires} if expires else {}), key)
