"""Where the HS256 signing key comes from, in the same order for the authorizer and `guardian token`.

1. `TOKEN_SIGNING_KEY_PARAM` set: SSM SecureString, read with Powertools parameters (cached 5 min).
2. `GUARDIAN_TOKEN_KEY` set: the key itself (local stack, CI).
3. Neither, and `ENVIRONMENT` is `local`/unset: a fixed development key, so `make demo` needs no setup.
   In any other environment there is no fallback: verification fails closed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from anomaly_guardian.settings import AuthorizerSettings

DEV_TOKEN_KEY = b"anomaly-guardian-local-development-token-key-not-for-production"
LOCAL_ENVIRONMENTS = frozenset({"", "local", "test"})


class SigningKeyUnavailable(RuntimeError):
    pass


def load_signing_key(max_age: int = 300, *, settings: AuthorizerSettings) -> bytes:
    """The key of `settings` (wiring passes the function's; the CLI and tooling `AuthorizerSettings.from_env()`)."""
    s = settings
    param = s.token_signing_key_param
    if param:
        from aws_lambda_powertools.utilities import parameters

        value = parameters.get_parameter(param, decrypt=True, max_age=max_age)
        return str(value).encode()
    if s.token_key:
        return s.token_key.encode()
    if s.environment in LOCAL_ENVIRONMENTS:
        return DEV_TOKEN_KEY
    raise SigningKeyUnavailable("set TOKEN_SIGNING_KEY_PARAM (SSM SecureString) or GUARDIAN_TOKEN_KEY")
