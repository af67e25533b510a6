"""The API Lambda when the console is deployed on its own origin (CloudFront): CORS for that origin only.

Given CONSOLE_ORIGIN (the SAM stack sets it from the SSM contract), When the browser's calls arrive with
an Origin header, Then the console's origin is allowed and any other origin gets no CORS headers.
"""

from __future__ import annotations

import pytest
from api_helpers import apigw_event, load_handler, parse

from anomaly_guardian.settings import SettingsError

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
CONSOLE = "https://console.example.com"


@pytest.fixture
def api_for(tables, monkeypatch):
    from anomaly_guardian.api import deps

    def _load(origin: str | None):
        if origin is None:
            monkeypatch.delenv("CONSOLE_ORIGIN", raising=False)
        else:
            monkeypatch.setenv("CONSOLE_ORIGIN", origin)
        deps.reset_services()
        return load_handler("api")

    yield _load
    deps.reset_services()


def _get(module, lambda_context, origin: str | None):
    event = apigw_event("apigw_get_rules")
    if origin:  # API Gateway passes every header both ways
        event["headers"] = {**(event.get("headers") or {}), "Origin": origin}
        event["multiValueHeaders"] = {**(event.get("multiValueHeaders") or {}), "Origin": [origin]}
    out = module.lambda_handler(event, lambda_context)
    headers = {k.lower(): v for k, v in (out.get("headers") or {}).items()}
    headers |= {k.lower(): ",".join(v) for k, v in (out.get("multiValueHeaders") or {}).items()}
    return parse(out)[0], headers


def test_the_consoles_origin_is_allowed_with_the_headers_it_sends(api_for, lambda_context):
    status, headers = _get(api_for(CONSOLE), lambda_context, CONSOLE)
    assert status == 200
    assert headers["access-control-allow-origin"] == CONSOLE
    assert {"Authorization", "Content-Type", "Idempotency-Key"} <= set(
        headers["access-control-allow-headers"].split(",")
    )
    assert "access-control-allow-credentials" not in headers  # a bearer token, never cookies


def test_another_origin_gets_no_cors_headers(api_for, lambda_context):
    status, headers = _get(api_for(CONSOLE), lambda_context, "https://evil.example")
    assert status == 200 and "access-control-allow-origin" not in headers


def test_without_a_deployed_console_no_origin_is_allowed(api_for, lambda_context):
    _, headers = _get(api_for(None), lambda_context, CONSOLE)
    assert "access-control-allow-origin" not in headers


def test_a_console_origin_with_a_path_fails_at_cold_start(api_for):
    with pytest.raises(SettingsError, match="CONSOLE_ORIGIN"):
        api_for(f"{CONSOLE}/console/")
