"""Signed bearer tokens (JWT) that carry the tenant.

The tenant of every API call comes from here and nowhere else: the authorizer verifies the token
and passes `tenantId` to the API in the request context. Tokens are HS256 JWTs signed with a key
kept in SSM SecureString (`TOKEN_SIGNING_KEY_PARAM`) or `GUARDIAN_TOKEN_KEY` locally. RS256 tokens
from an external issuer (the console's Cognito user pool) are accepted when a public key or JWKS URL is
configured: they are checked against that issuer's own iss/aud, the tenant is its tenant claim
(`custom:tenantId`, an attribute only an administrator can set) and the scopes come from its groups
(`cognito:groups`, GROUP_SCOPES), so both HS256 CLI tokens and console sign-ins work side by side.

Tenant ids are restricted to `[A-Za-z0-9][A-Za-z0-9_.-]{0,63}` so a tenant can never smuggle the
`#` separator into a DynamoDB key and address another tenant's items.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeGuard

import jwt

if TYPE_CHECKING:
    from anomaly_guardian.settings import AuthorizerSettings

DEFAULT_ISSUER = "anomaly-guardian"
DEFAULT_AUDIENCE = "anomaly-guardian-api"
# read: GET anything; write: POST/PUT/DELETE anything (includes POST /events); events:write: POST /events only.
SCOPES = ("api:read", "api:write", "events:write", "admin")  # admin: cross-tenant views (reports of all tenants)
DEFAULT_SCOPES = ("api:read", "api:write")
# Cognito group -> scopes: a group named after a role, or exactly after one scope.
# The roles come last: "admin" is both a scope and a role, and as a group it is the role.
GROUP_SCOPES: dict[str, tuple[str, ...]] = {
    **{scope: (scope,) for scope in SCOPES},
    "viewer": ("api:read",),
    "analyst": ("api:read", "api:write"),
    "admin": ("api:read", "api:write", "admin"),
}
CONSOLE_GROUPS = ("viewer", "analyst", "admin")  # the user pool's groups (terraform/modules/console)
MAX_TTL_SECONDS = 7 * 24 * 3600
MIN_KEY_BYTES = 32
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class TokenError(Exception):
    """Why a token was refused; the reason is safe to log (it never contains the token)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def valid_tenant(tenant: object) -> TypeGuard[str]:
    return isinstance(tenant, str) and bool(_TENANT.match(tenant))


@dataclass(frozen=True, slots=True)
class Claims:
    tenant: str
    subject: str
    scopes: tuple[str, ...]
    expires_at: int


@dataclass(frozen=True)
class ExternalIssuer:
    """An RS256 identity provider (a Cognito user pool): its own iss/aud, where the tenant and scopes are.

    Cognito ID tokens carry `aud` = the app client id and `token_use` = "id"; access tokens carry neither
    `aud` nor custom attributes, so they are refused (missing aud / token_use)."""

    key_for: Callable[[str], Any]  # token -> public key (PEM/JWK-derived)
    issuer: str
    audience: str
    tenant_claim: str = "custom:tenantId"
    groups_claim: str = "cognito:groups"


@dataclass(frozen=True)
class TokenSettings:
    """What a verifier accepts. `hs256_key` (with issuer/audience) for our own tokens; `external` for RS256."""

    hs256_key: bytes | None = None
    issuer: str = DEFAULT_ISSUER
    audience: str = DEFAULT_AUDIENCE
    external: ExternalIssuer | None = None
    leeway_seconds: int = 30
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, s: AuthorizerSettings, hs256_key: bytes | None) -> TokenSettings:
        """The external issuer (JWKS via PyJWKClient, or a PEM) has its own iss/aud when configured, else ours."""
        jwks_url, pem = s.jwks_url, s.public_key
        key_for: Callable[[str], Any] | None = None
        if jwks_url:
            client = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=3600)
            key_for = lambda token: client.get_signing_key_from_jwt(token).key  # noqa: E731
        elif pem:
            key_for = lambda _token: pem  # noqa: E731
        external = None
        if key_for is not None:
            external = ExternalIssuer(
                key_for=key_for,
                issuer=s.external_issuer or s.issuer,
                audience=s.external_audience or s.audience,
                tenant_claim=s.tenant_claim,
                groups_claim=s.groups_claim,
            )
        return cls(hs256_key=hs256_key, issuer=s.issuer, audience=s.audience, external=external)


def _check_key(key: bytes) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"token signing key must be at least {MIN_KEY_BYTES} bytes, got {len(key)}")
    return key


def sign_token(
    key: bytes,
    tenant: str,
    *,
    subject: str | None = None,
    scopes: Iterable[str] = DEFAULT_SCOPES,
    ttl_seconds: int = 3600,
    issuer: str = DEFAULT_ISSUER,
    audience: str = DEFAULT_AUDIENCE,
    now: float | None = None,
) -> str:
    """An HS256 JWT for `tenant`; refuses bad tenants, unknown scopes and TTLs over a week."""
    if not valid_tenant(tenant):
        raise ValueError("tenant must match [A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
    scopes = tuple(dict.fromkeys(scopes))
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise ValueError(f"unknown scope(s) {unknown}; choose from {', '.join(SCOPES)}")
    if not 1 <= ttl_seconds <= MAX_TTL_SECONDS:
        raise ValueError(f"ttl must be between 1 and {MAX_TTL_SECONDS} seconds")
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": subject or f"cli:{tenant}",
        "tenantId": tenant,
        "scope": " ".join(scopes),
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, _check_key(key), algorithm="HS256")


def verify_token(token: str, settings: TokenSettings, *, now: float | None = None) -> Claims:
    """Verify signature, exp/nbf, iss, aud and the tenant claim; raise TokenError with a loggable reason."""
    if not token or len(token) > 8192:
        raise TokenError("token missing or too long")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenError("token is not a JWT") from None
    alg = header.get("alg")
    external = settings.external
    issuer, audience = settings.issuer, settings.audience
    if alg == "HS256" and settings.hs256_key:
        key: Any = settings.hs256_key
    elif alg == "RS256" and external is not None:
        issuer, audience = external.issuer, external.audience
        try:
            key = external.key_for(token)
        except jwt.PyJWTError:
            raise TokenError("no public key for this token (kid unknown)") from None
    else:
        raise TokenError(f"algorithm {alg!r} not accepted")
    try:
        payload = _decode_at(token, key, alg, issuer, audience, settings, time.time() if now is None else now)
    except jwt.ExpiredSignatureError:
        raise TokenError("token expired") from None
    except jwt.InvalidAudienceError:
        raise TokenError("wrong audience") from None
    except jwt.InvalidIssuerError:
        raise TokenError("wrong issuer") from None
    except jwt.InvalidSignatureError:
        raise TokenError("bad signature") from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenError(f"missing claim {exc.claim}") from None
    except jwt.PyJWTError as exc:
        raise TokenError(f"invalid token ({type(exc).__name__})") from None
    tenant_claim = external.tenant_claim if alg == "RS256" and external else "tenantId"
    tenant = payload.get(tenant_claim)
    if not valid_tenant(tenant):
        raise TokenError(f"claim {tenant_claim} missing or not a valid tenant id")
    raw_scope = payload.get("scope", "")
    scopes = [s for s in raw_scope.split() if s in SCOPES] if isinstance(raw_scope, str) else []
    if alg == "RS256" and external is not None:
        if payload.get("token_use", "id") != "id":
            raise TokenError("not an ID token (token_use)")
        groups = payload.get(external.groups_claim) or []
        if isinstance(groups, str):  # some issuers send one group as a string
            groups = [groups]
        scopes += [scope for g in groups if isinstance(g, str) for scope in GROUP_SCOPES.get(g, ())]
    return Claims(
        tenant=tenant,
        subject=str(payload["sub"]),
        scopes=tuple(dict.fromkeys(scopes)),
        expires_at=int(payload["exp"]),
    )


def _decode_at(
    token: str, key: Any, alg: str, issuer: str, audience: str, settings: TokenSettings, now: float
) -> dict[str, Any]:
    """Verify signature/iss/aud with PyJWT, then exp/nbf against an explicit clock (testable)."""
    payload = jwt.decode(
        token,
        key,
        algorithms=[alg],
        audience=audience,
        issuer=issuer,
        options={
            "require": ["exp", "iss", "aud", "sub"],
            "verify_exp": False,
            "verify_nbf": False,
            "verify_iat": False,
        },
    )
    for claim in ("exp", "nbf"):
        if claim in payload and (isinstance(payload[claim], bool) or not isinstance(payload[claim], (int, float))):
            raise jwt.InvalidTokenError(f"{claim} is not a number")
    if now > payload["exp"] + settings.leeway_seconds:
        raise jwt.ExpiredSignatureError("expired")
    # Tokens live at most 7 days: one that claims a longer life (exp far out, or exp - iat too long)
    # was not issued by us under this contract, whatever its signature says.
    issued = payload.get("iat")
    if isinstance(issued, bool) or (issued is not None and not isinstance(issued, (int, float))):
        raise jwt.InvalidTokenError("iat is not a number")
    if payload["exp"] - now > MAX_TTL_SECONDS + settings.leeway_seconds or (
        issued is not None and payload["exp"] - issued > MAX_TTL_SECONDS + settings.leeway_seconds
    ):
        raise TokenError("token lifetime exceeds 7 days")
    if "nbf" in payload and now < payload["nbf"] - settings.leeway_seconds:
        raise jwt.ImmatureSignatureError("not yet valid")
    return payload
