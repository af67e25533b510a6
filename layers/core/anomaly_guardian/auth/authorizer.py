"""The Lambda authorizer's logic (TOKEN or REQUEST type), kept out of the handler so it is unit-testable.

Invalid, expired or missing tokens raise `Unauthorized`, whose message is exactly "Unauthorized":
API Gateway answers 401 for that. A valid token gets an Allow policy for the methods its scopes
grant on this API and stage only, plus context {tenantId, sub, scopes} for the API function.
The reason for a refusal is logged; the token never is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from anomaly_guardian.auth.policy import MethodArn, allow_policy
from anomaly_guardian.auth.tokens import TokenError, TokenSettings, verify_token


class Unauthorized(Exception):
    def __init__(self, reason: str):
        super().__init__("Unauthorized")  # the exact message API Gateway maps to 401
        self.reason = reason


def bearer_token(event: Mapping[str, Any]) -> str:
    if event.get("type") == "TOKEN":
        raw = event.get("authorizationToken") or ""
    else:  # REQUEST authorizer: header names are case-insensitive
        headers = event.get("headers") or {}
        raw = next((v for k, v in headers.items() if k.lower() == "authorization" and v), "")
    scheme, _, token = str(raw).strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("no bearer token in the Authorization header")
    return token.strip()


def authorize(event: Mapping[str, Any], settings: TokenSettings, now: float | None = None) -> dict[str, Any]:
    try:
        arn = MethodArn.parse(str(event.get("methodArn", "")))
    except ValueError as exc:
        raise Unauthorized(str(exc)) from None
    token = bearer_token(event)
    try:
        claims = verify_token(token, settings, now=now)
    except TokenError as exc:
        raise Unauthorized(exc.reason) from None
    return allow_policy(claims, arn)
