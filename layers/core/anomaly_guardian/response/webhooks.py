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
import ipaddress
import json
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from anomaly_guardian.ids import new_ulid

EVENT_TYPES = frozenset({"anomaly.detected", "anomaly.resolved", "incident.opened", "incident.resolved"})
MAX_DELAY_SECONDS = 900  # SQS DelaySeconds limit
DEFAULT_RETRY_POLICY = {"maxRetries": 3, "backoffMultiplier": 2}
SIGNATURE_TOLERANCE_SECONDS = 300
# Test/local only: lets deliveries go to http://127.0.0.1 (a receiver in the test process).
LOOPBACK_OVERRIDE_ENV = "GUARDIAN_WEBHOOK_ALLOW_LOOPBACK"


class UnsafeDestination(ValueError):
    """The webhook URL is not https or resolves to a non-public address; never retried."""


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


def loopback_allowed() -> bool:
    return os.environ.get(LOOPBACK_OVERRIDE_ENV, "").lower() in ("1", "true", "yes")


Resolver = Callable[[str, int], Sequence[str]]


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return sorted({str(info[4][0]) for info in infos})


def check_destination(
    url: str, resolver: Resolver = _resolve, allow_loopback: bool | None = None
) -> tuple[str, int, str]:
    """(host, port, address to connect to) for a safe URL; raises UnsafeDestination naming the problem.

    https only, every resolved address public. With the explicit test/local override, and only
    then, http://127.0.0.1 is accepted too.
    """
    allow_loopback = loopback_allowed() if allow_loopback is None else allow_loopback
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:
        raise UnsafeDestination("webhook URL has no host")
    loopback_ok = allow_loopback and host == "127.0.0.1"
    if parts.scheme != "https" and not (loopback_ok and parts.scheme == "http"):
        raise UnsafeDestination(f"webhook URL must use https, got {parts.scheme or 'no scheme'}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = list(resolver(host, port))
    except OSError as exc:
        raise UnsafeDestination(f"webhook host {host} does not resolve: {exc}") from None
    if not addresses:
        raise UnsafeDestination(f"webhook host {host} does not resolve")
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if loopback_ok and ip == ipaddress.ip_address("127.0.0.1"):
            continue
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if not ip.is_global or ip.is_multicast:
            raise UnsafeDestination(f"webhook host {host} resolves to a non-public address ({ip})")
    return host, port, addresses[0]


def new_delivery_id() -> str:
    return f"dlv_{new_ulid()}"
