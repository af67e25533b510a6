"""The webhook dispatcher's logic: one queued delivery -> signed POST -> done, requeued, or dead-lettered.

Retries are our own (not the queue's redrive) because each registration has its own `retryPolicy`:
a failed attempt n is sent back to the queue with DelaySeconds = min(900, backoffMultiplier ** n);
after `maxRetries` retries, or at once for a destination that is now unsafe, the delivery goes to
the webhook DLQ with the reason. Logs carry ids, status and timing, never the secret or the body.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from anomaly_guardian.response.webhooks import (
    UnsafeDestination,
    check_destination,
    headers_for,
    next_delay,
    payload,
)

if TYPE_CHECKING:
    from anomaly_guardian.response.ports import Ports

log = Logger(child=True)

Poster = Callable[[str, str, bytes, dict[str, str]], int]


class DeliveryMessageInvalid(ValueError):
    pass


def _required(body: Mapping[str, Any]) -> tuple[str, str, str, str, int]:
    try:
        return (
            str(body["tenantId"]),
            str(body["webhookId"]),
            str(body["event"]),
            str(body["deliveryId"]),
            int(body.get("attempt", 1)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DeliveryMessageInvalid(f"webhook delivery message is missing or has a bad {exc}") from None


def deliver(
    ports: Ports,
    body: Mapping[str, Any],
    post: Poster,
    secret_box: Any,
    resolver: Callable[[str, int], Any] | None = None,
    now: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """Attempt one delivery; returns {"outcome": delivered|retry|dead_letter|dropped, ...}."""
    tenant, webhook_id, event, delivery_id, attempt = _required(body)
    context = {"tenant": tenant, "webhookId": webhook_id, "deliveryId": delivery_id, "attempt": attempt}
    try:
        hook = ports.config.get_webhook(tenant, webhook_id)
    except KeyError:
        log.warning("webhook deleted before delivery; dropping", extra=context)
        return {"outcome": "dropped", "reason": "webhook deleted"}
    if not hook.get("enabled", True):
        log.info("webhook disabled; dropping", extra=context)
        return {"outcome": "dropped", "reason": "webhook disabled"}

    url = str(hook.get("url", ""))
    try:
        kwargs = {"resolver": resolver} if resolver else {}
        _, _, address = check_destination(url, allow_loopback=ports.allow_loopback, **kwargs)
    except UnsafeDestination as exc:
        return _dead_letter(ports, body, f"unsafe destination: {exc}", context)

    try:
        secret = secret_box.decrypt(tenant, hook["secretCiphertext"]).encode()
    except Exception as exc:  # a secret that cannot be decrypted will not decrypt on a retry either
        return _dead_letter(ports, body, f"signing secret unavailable: {type(exc).__name__}", context)
    data = payload(event, tenant, body.get("data") or {}, str(body.get("createdAt", "")), delivery_id)
    headers = headers_for(secret, event, delivery_id, data, int(now()))
    started = time.perf_counter()
    try:
        status = post(url, address, data, headers)
        error = None if 200 <= status < 300 else f"HTTP {status}"
    except Exception as exc:  # network, TLS and protocol errors: all retried per the policy
        status, error = None, type(exc).__name__
    elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
    if error is None:
        log.info("webhook delivered", extra=context | {"status": status, "ms": elapsed_ms})
        return {"outcome": "delivered", "status": status}

    delay = next_delay(attempt, hook.get("retryPolicy"))
    if delay is None:
        return _dead_letter(ports, body, f"gave up after {attempt} attempt(s): {error}", context)
    retry = dict(body) | {"attempt": attempt + 1, "lastError": error}
    if ports.webhook_queue is None:  # a delivery came from this queue: the function lacks its variable
        raise RuntimeError(f"webhook delivery {context['deliveryId']} failed and WEBHOOK_QUEUE_URL is not set")
    ports.webhook_queue.send(retry, delay_seconds=delay)
    log.warning("webhook delivery failed; retry scheduled", extra=context | {"error": error, "delay": delay})
    return {"outcome": "retry", "delaySeconds": delay, "error": error}


def _dead_letter(ports: Ports, body: Mapping[str, Any], reason: str, context: dict[str, Any]) -> dict[str, Any]:
    if ports.webhook_dlq is None:
        # No DLQ configured: fail the record so the queue's own redrive keeps it.
        raise RuntimeError(f"webhook delivery {context['deliveryId']} failed and WEBHOOK_DLQ_URL is not set: {reason}")
    ports.webhook_dlq.send(dict(body) | {"deadLetterReason": reason})
    log.error("webhook delivery dead-lettered", extra=context | {"reason": reason})
    return {"outcome": "dead_letter", "reason": reason}
