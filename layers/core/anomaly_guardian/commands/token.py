"""`guardian token --tenant T`: print a bearer token the API accepts (same signing code as the authorizer)."""

from __future__ import annotations

import argparse
import sys

from anomaly_guardian.auth.keys import SigningKeyUnavailable, load_signing_key
from anomaly_guardian.auth.tokens import DEFAULT_SCOPES, MAX_TTL_SECONDS, SCOPES, TokenSettings, sign_token
from anomaly_guardian.settings import AuthorizerSettings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "token",
        help="print a bearer token for a tenant",
        description="Sign a bearer token with the key from TOKEN_SIGNING_KEY_PARAM (SSM), GUARDIAN_TOKEN_KEY, "
        "or the local development key. Use it as: Authorization: Bearer <token>.",
    )
    p.add_argument("--tenant", required=True, help="tenant id the token is for")
    p.add_argument("--ttl", type=int, default=3600, help=f"lifetime in seconds (max {MAX_TTL_SECONDS}); default 3600")
    p.add_argument(
        "--scope",
        action="append",
        choices=SCOPES,
        help=f"grant this scope (repeatable); default: {' '.join(DEFAULT_SCOPES)}",
    )
    p.add_argument("--subject", help="who the token is for (sub claim); default cli:<tenant>")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        key = load_signing_key(settings=AuthorizerSettings.from_env())
    except SigningKeyUnavailable as exc:
        print(f"guardian token: {exc}", file=sys.stderr)
        return 2
    settings = TokenSettings.from_settings(AuthorizerSettings.from_env(), key)
    try:
        token = sign_token(
            key,
            args.tenant,
            subject=args.subject,
            scopes=args.scope or DEFAULT_SCOPES,
            ttl_seconds=args.ttl,
            issuer=settings.issuer,
            audience=settings.audience,
        )
    except ValueError as exc:
        print(f"guardian token: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0
