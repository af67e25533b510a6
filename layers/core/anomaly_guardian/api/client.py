"""A tiny HTTP client for the API (stdlib only), used by `guardian rules` / `guardian webhooks`.

The base URL comes from `--api` or `GUARDIAN_API_URL`; the bearer token from `GUARDIAN_TOKEN`, or is
signed locally for `--tenant` with the same key resolution as `guardian token`.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

from anomaly_guardian.auth.keys import load_signing_key
from anomaly_guardian.auth.tokens import TokenSettings, sign_token
from anomaly_guardian.settings import AuthorizerSettings


class ApiCallError(RuntimeError):
    def __init__(self, status: int, body: Any):
        message = body.get("message") if isinstance(body, dict) else str(body)
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.body = body


def bearer_for(tenant: str | None) -> str:
    token = os.environ.get("GUARDIAN_TOKEN")
    if token:
        return token
    if not tenant:
        raise ValueError("set GUARDIAN_TOKEN or pass --tenant")
    auth = AuthorizerSettings.from_env()
    key = load_signing_key(settings=auth)
    settings = TokenSettings.from_settings(auth, key)
    return sign_token(key, tenant, ttl_seconds=300, issuer=settings.issuer, audience=settings.audience)


class ApiClient:
    def __init__(self, base_url: str, token: str, timeout: float = 30.0):
        if not base_url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ValueError("the API URL must be https (or http://127.0.0.1 for the local stack)")
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - scheme checked in __init__
            self.base_url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:  # noqa: S310
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = raw.decode(errors="replace")
            raise ApiCallError(exc.code, parsed) from None
        return json.loads(raw) if raw else None
