"""Webhook deliveries: payload, HMAC signature, retry schedule and the destination check.

Signature (what a receiver verifies): `X-Guardian-Signature: t=<unix seconds>,v1=<hex>` where
v1 = HMAC-SHA256(secret, f"{t}.{body}"). Receivers should reject a `t` older than 5 minutes.
The destination is re-checked at every delivery: a hostname that resolved to a public address
at registration may point at 169.254.169.254 or 10.0.0.1 today (DNS rebinding), so every
address it resolves to must be public, and the connection is made to the checked address.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from anomaly_guardian.ids import new_ulid
from anomaly_guardian.url_guard import LOOPBACK_OVERRIDE_ENV as LOOPBACK_OVERRIDE_ENV
from anomaly_guardian.url_guard import Destination, Resolver, UnsafeUrl, system_resolver
from anomaly_guardian.url_guard import check_destination as guard_destination

EVENT_TYPES = frozenset({"anomaly.detected", "anomaly.resolved", "incident.opened", "incident.resolved"})
MAX_DELAY_SECONDS = 900  # SQS DelaySeconds limit
DEFAULT_RETRY_POLICY = {"maxRetries": 3, "backoffMultiplier": 2}
SIGNATURE_TOLERANCE_SECONDS = 300


class UnsafeDestination(UnsafeUrl):
    """The webhook URL fails the SSRF guard at delivery (url_guard); never retried."""


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: bytes, header: str, body: bytes, now: float, tolerance: int = SIGNATURE_TOLERANCE_SECONDS) -> bool:
    """Receiver side (and tests): constant-time check of v1 and of the timestamp's freshness."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        ts = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - ts) > tolerance:
        return False
    expected = sign(secret, ts, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def headers_for(secret: bytes, event: str, delivery_id: str, body: bytes, timestamp: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "AnomalyGuardian-Webhooks/1",
        "X-Guardian-Event": event,
        "X-Guardian-Delivery": delivery_id,
        "X-Guardian-Signature": sign(secret, timestamp, body),
    }


def payload(event: str, tenant: str, data: Mapping[str, Any], created_at: str, delivery_id: str) -> bytes:
    """The body every receiver gets; compact, key order stable so signatures are reproducible."""
    doc = {"id": delivery_id, "event": event, "tenantId": tenant, "createdAt": created_at, "data": data}
    return json.dumps(doc, separators=(",", ":"), sort_keys=True, default=str).encode()


def retry_policy(raw: Mapping[str, Any] | None) -> tuple[int, float]:
    policy = DEFAULT_RETRY_POLICY | dict(raw or {})
    retries = max(0, min(int(policy["maxRetries"]), 20))
    multiplier = max(1.0, min(float(policy["backoffMultiplier"]), 60.0))
    return retries, multiplier


def next_delay(attempt: int, raw_policy: Mapping[str, Any] | None) -> int | None:
    """Seconds before retry number `attempt` (1-based), or None when the policy is exhausted (-> DLQ)."""
    retries, multiplier = retry_policy(raw_policy)
    if attempt > retries:
        return None
    return int(min(MAX_DELAY_SECONDS, round(multiplier**attempt)))


def wants(webhook: Mapping[str, Any], event: str, severity: str | None) -> bool:
    """Does this registration subscribe to the event (and, when it has a severity, to that severity)?"""
    if not webhook.get("enabled", True) or webhook.get("deleted"):
        return False
    events = webhook.get("events") or sorted(EVENT_TYPES)
    if event not in events and "*" not in events:
        return False
    severities = webhook.get("severityFilter") or []
    return not (severity and severities and severity not in severities)


def check_destination(url: str, resolver: Resolver = system_resolver, allow_loopback: bool = False) -> Destination:
    """(host, port, address to connect to) for a safe URL; raises UnsafeDestination naming the problem.

    The same guard as registration (`anomaly_guardian.url_guard`): https only, no credentials, no
    internal names or obfuscated IPs, every resolved address public. With the explicit test/local
    override, and only then, http(s)://127.0.0.1 is accepted too.
    """
    try:
        return guard_destination(url, resolver, allow_loopback)
    except UnsafeUrl as exc:
        raise UnsafeDestination(str(exc)) from None


def new_delivery_id() -> str:
    return f"dlv_{new_ulid()}"
