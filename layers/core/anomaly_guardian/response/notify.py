"""Notifications: SNS (severity attribute) and webhook fan-out (one SQS message per subscribed webhook).

Messages on the webhook queue carry the event and its data but never the secret: the dispatcher
loads the registration at delivery time, so a rotated secret or a deleted webhook takes effect at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from anomaly_guardian.models.anomaly import CONTRACT_FIELDS, utc_now_iso
from anomaly_guardian.response.webhooks import EVENT_TYPES, new_delivery_id, wants

if TYPE_CHECKING:
    from anomaly_guardian.response.ports import Ports, WebhookPorts

# Only these anomaly fields leave the account in a webhook (all pseudonymised already).
ANOMALY_FIELDS = CONTRACT_FIELDS


def anomaly_view(anomaly: Mapping[str, Any]) -> dict[str, Any]:
    return {k: anomaly[k] for k in ANOMALY_FIELDS if k in anomaly}


def delivery_id(subject: str, event: str, webhook_id: str) -> str:
    """Stable per (subject, event, webhook): a redelivered queue message or a retried step queues the same
    id again, so receivers de-duplicate on X-Guardian-Delivery."""
    return "dlv_" + hashlib.sha256(f"{subject}\x1f{event}\x1f{webhook_id}".encode()).hexdigest()[:32]


def fan_out(
    ports: WebhookPorts,
    tenant: str,
    event: str,
    data: Mapping[str, Any],
    severity: str | None,
    subject: str | None = None,
) -> int:
    """Queue one delivery per webhook of `tenant` subscribed to `event`; returns how many.

    `subject` (the anomaly or incident id) makes delivery ids deterministic; without it each call is new."""
    if event not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event {event!r}")
    if ports.webhook_queue is None:
        return 0
    created = utc_now_iso()
    messages = [
        {
            "tenantId": tenant,
            "webhookId": hook["webhookId"],
            "event": event,
            "deliveryId": delivery_id(subject, event, hook["webhookId"]) if subject else new_delivery_id(),
            "createdAt": created,
            "attempt": 1,
            "data": dict(data),
        }
        for hook in ports.config.list_webhooks(tenant)
        if wants(hook, event, severity)
    ]
    if messages:
        ports.webhook_queue.send_batch(messages)
    return len(messages)


def alert(ports: Ports, tenant: str, event: str, severity: str, subject: str, message: Mapping[str, Any]) -> str | None:
    if ports.alerts is None:
        return None
    return ports.alerts.publish(subject, dict(message) | {"event": event, "tenantId": tenant}, severity, tenant, event)
