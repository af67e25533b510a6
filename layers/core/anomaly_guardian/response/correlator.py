"""The correlator: one message per new anomaly (from `dispatch`) -> incident update -> remediation start.

Safe to repeat: an anomaly already in its incident is not added twice, and the execution name is
derived from the tenant and anomaly id, so a redelivered message never starts a second run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from anomaly_guardian.ids import new_ulid
from anomaly_guardian.models.anomaly import Anomaly, utc_now_iso
from anomaly_guardian.response.correlation import (
    DEFAULT_WINDOW_SECONDS,
    ConcurrentUpdate,
    Incident,
    anomaly_entities,
    anomaly_span,
    correlate,
    epoch_of,
    pick_incident,
)
from anomaly_guardian.response.notify import fan_out

if TYPE_CHECKING:
    from anomaly_guardian.response.ports import Ports

log = Logger(child=True)
MAX_CONFLICT_RETRIES = 5


_NAME_BAD = re.compile(r"[^A-Za-z0-9_-]")


def execution_name(*parts: str) -> str:
    """Deterministic execution name (<= 80 chars, [A-Za-z0-9_-]): the same anomaly never runs twice."""
    return _NAME_BAD.sub("-", "-".join(parts))[:80]


class InvalidMessage(ValueError):
    """The message is not a dispatch message; kept on the queue's DLQ, never dropped."""


def parse(body: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    if not isinstance(body, Mapping) or not isinstance(body.get("anomaly"), Mapping):
        raise InvalidMessage("message has no 'anomaly' object")
    try:
        anomaly = Anomaly.model_validate(body["anomaly"]).model_dump(mode="json")
    except ValueError as exc:
        raise InvalidMessage(f"invalid anomaly: {str(exc).splitlines()[0]}") from None
    ip = body.get("subjectIp")
    return anomaly, str(ip) if ip else None


def assign_incident(ports: Ports, anomaly: Mapping[str, Any], window: int) -> tuple[Incident, bool]:
    """(incident, opened now). Retries when another correlator updated the same incident meanwhile."""
    tenant = anomaly["tenantId"]
    entities = anomaly_entities(anomaly)
    at = epoch_of(anomaly["detectedAt"])
    span = anomaly_span(anomaly)
    for _ in range(MAX_CONFLICT_RETRIES):
        incident = pick_incident(ports.incidents.candidates(tenant, entities), at, window, span)
        opened = incident is None
        if incident is None:
            incident = Incident(incidentId=new_ulid(int(at * 1000)), tenantId=tenant)
        if not correlate(incident, anomaly, utc_now_iso()):
            return incident, False
        try:
            ports.incidents.save(incident, window)
        except ConcurrentUpdate:
            continue
        return incident, opened
    raise RuntimeError(f"incident for anomaly {anomaly['anomalyId']} kept changing; will retry the message")


def handle_message(ports: Ports, body: Mapping[str, Any], window: int = DEFAULT_WINDOW_SECONDS) -> dict[str, Any]:
    """`window`: CorrelatorSettings.correlation_window_seconds (CORRELATION_WINDOW_SECONDS)."""
    anomaly, ip = parse(body)
    tenant = anomaly["tenantId"]
    incident, opened = assign_incident(ports, anomaly, window)
    # Remediation first: a webhook problem must never hold back the response itself.
    started = False
    if ports.workflows is not None:
        payload = {
            "tenantId": tenant,
            "anomaly": anomaly,
            "incidentId": incident.incidentId,
            "incidentSeverity": incident.severity,
            "subjectIp": ip,
        }
        _, started = ports.workflows.start(execution_name(tenant, anomaly["anomalyId"]), payload)
    # The anomaly that opened the incident announces it, also when its message is redelivered after a
    # failure past the save (same delivery ids, so receivers see it once).
    if opened or (incident.members and incident.members[0]["anomalyId"] == anomaly["anomalyId"]):
        fan_out(ports, tenant, "incident.opened", incident.public(), incident.severity, incident.incidentId)
    log.info("correlated", extra={"tenant": tenant, "incident": incident.incidentId, "opened": opened})
    return {"incidentId": incident.incidentId, "opened": opened, "started": started}
