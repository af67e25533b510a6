"""Bearer tokens: one signing/verification module shared by the authorizer Lambda and `guardian token`."""

from anomaly_guardian.auth.tokens import (
    DEFAULT_SCOPES,
    SCOPES,
    Claims,
    TokenError,
    TokenSettings,
    sign_token,
    valid_tenant,
    verify_token,
)

__all__ = [
    "DEFAULT_SCOPES",
    "SCOPES",
    "Claims",
    "TokenError",
    "TokenSettings",
    "sign_token",
    "valid_tenant",
    "verify_token",
]
