"""The detector's hand-off to the response side, off its hot path: one SQS SendMessageBatch per ten
new anomalies onto the response queue (KMS-encrypted, DLQ), consumed by the correlator Lambda.

The raw source IP is attached here, from the detector's in-memory events, because the WAF block
needs it and the stored anomaly only has its pseudonym; it travels only on the encrypted queue
and into the remediation execution, never into the Anomalies table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from anomaly_guardian.models.anomaly import Anomaly


def messages(anomalies: Sequence[Anomaly | Mapping[str, Any]], events: Iterable[Any] = ()) -> list[dict[str, Any]]:
    ips: dict[str, str] = {}
    for ev in events:
        ip = getattr(ev, "ipAddress", None) if not isinstance(ev, Mapping) else ev.get("ipAddress")
        event_id = getattr(ev, "eventId", None) if not isinstance(ev, Mapping) else ev.get("eventId")
        if ip and event_id:
            ips[str(event_id)] = str(ip)
    out = []
    for a in anomalies:
        doc = a.model_dump(mode="json") if isinstance(a, Anomaly) else dict(a)
        event_id = str((doc.get("originalEvent") or {}).get("eventId", ""))
        out.append({"anomaly": doc, "subjectIp": ips.get(event_id)})
    return out


def dispatch(anomalies: Sequence[Anomaly | Mapping[str, Any]], events: Iterable[Any] = (), queue: Any = None) -> int:
    """Send new anomalies to the response queue (`wiring.detector` passes the one RESPONSE_QUEUE_URL
    names); returns how many. No-op without a queue (replay, demo without response). Raises if SQS
    refuses any, so the detector's batch is retried."""
    if not anomalies or queue is None:
        return 0
    return queue.send_batch(messages(anomalies, events))
