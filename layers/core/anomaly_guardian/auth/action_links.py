"""Signed one-click links in alerts: on-call marks a usage alert false positive, or snoozes its pattern
for N hours, from the alert itself, without signing in.

A link is a capability: `base64url(claims).base64url(HMAC-SHA256(key, claims))`, claims `{v, t (tenant),
a (anomalyId), op (false_positive | snooze), h (hours, snooze), exp (epoch s)}`. The key is derived from
the token signing key with its own label (a link can never pass as an API token or a pagination token,
nor the reverse). Links expire (default 72 h); what they do is idempotent (writing the same suppression
twice changes nothing), so a link clicked twice, or opened by a mail scanner, does no harm beyond what
it says; the page a GET shows only confirms, and the POST from its button acts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

_DOMAIN = b"anomaly-guardian/alert-action-link/v1"
OPERATIONS = ("false_positive", "snooze")
MAX_SNOOZE_HOURS = 24 * 14
DEFAULT_TTL_HOURS = 72


class InvalidActionLink(ValueError):
    """The link is malformed, altered, or expired (the message says which, for the page)."""


@dataclass(frozen=True)
class ActionClaims:
    tenant: str
    anomaly_id: str
    op: str
    hours: int | None
    expires: int


def link_key(base: bytes) -> bytes:
    """The links' MAC key, derived from `base`: GUARDIAN_ACTION_LINK_KEY when set, else the token signing
    key (wiring passes one of them)."""
    return hmac.new(base, _DOMAIN, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(
    key: bytes,
    tenant: str,
    anomaly_id: str,
    op: str,
    hours: int | None = None,
    *,
    ttl_hours: float = DEFAULT_TTL_HOURS,
    now: float | None = None,
) -> str:
    if op not in OPERATIONS:
        raise ValueError(f"unknown link operation {op!r}")
    if op == "snooze" and not (hours and 1 <= hours <= MAX_SNOOZE_HOURS):
        raise ValueError(f"snooze needs 1..{MAX_SNOOZE_HOURS} hours")
    claims = {"v": 1, "t": tenant, "a": anomaly_id, "op": op, "exp": int((now or time.time()) + ttl_hours * 3600)}
    if op == "snooze":
        claims["h"] = int(hours)
    body = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_b64(hmac.new(key, body.encode(), hashlib.sha256).digest())}"


def verify(key: bytes, token: str, now: float | None = None) -> ActionClaims:
    body, sep, mac = token.partition(".")
    if not sep or not body or not mac or len(token) > 2048:
        raise InvalidActionLink("This link is not a valid Anomaly Guardian action link.")
    expected = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected, mac):
        raise InvalidActionLink("This link has been altered or was not issued by this deployment.")
    try:
        claims = json.loads(_unb64(body))
        result = ActionClaims(
            str(claims["t"]), str(claims["a"]), str(claims["op"]), claims.get("h"), int(claims["exp"])
        )
    except (ValueError, KeyError, TypeError):
        raise InvalidActionLink("This link is not a valid Anomaly Guardian action link.") from None
    if result.op not in OPERATIONS:
        raise InvalidActionLink("This link asks for an unknown action.")
    if (now or time.time()) >= result.expires:
        raise InvalidActionLink("This link has expired; use the API or the console instead.")
    return result
