"""The authorizer Lambda with its real handler: tokens from `guardian token` / SSM-held keys, and the
console's Cognito ID tokens verified against the pool's JWKS.

Given TOKEN and REQUEST events from tests/events, When the handler runs, Then a policy limited to
this API (with the tenant in the context) or "Unauthorized" (API Gateway's 401).
"""

from __future__ import annotations

import io
import json
import logging
import time

import pytest
from api_helpers import EVENTS, load_handler

from anomaly_guardian.adapters.dynamodb import client
from anomaly_guardian.auth.keys import DEV_TOKEN_KEY
from anomaly_guardian.auth.tokens import sign_token
from anomaly_guardian.cli import main as guardian

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
SSM_KEY = "k" * 48


def fixture(name):
    """The committed event, with its token re-signed now with the development key: a committed token
    cannot be valid for ever (tokens live at most 7 days, and verification enforces it)."""
    event = json.loads((EVENTS / f"{name}.json").read_text())
    fresh = sign_token(DEV_TOKEN_KEY, "acme", subject="cli:acme", scopes=["api:read", "api:write"])
    if "authorizationToken" in event:
        event["authorizationToken"] = f"Bearer {fresh}"
    for header in ("Authorization", "authorization"):
        if header in (event.get("headers") or {}):
            event["headers"][header] = f"Bearer {fresh}"
    return event


@pytest.fixture
def authorizer(aws_env, monkeypatch):
    monkeypatch.delenv("TOKEN_SIGNING_KEY_PARAM", raising=False)
    monkeypatch.delenv("GUARDIAN_TOKEN_KEY", raising=False)
    return load_handler("authorizer")


def test_committed_token_fixture_is_allowed_for_get_only_on_this_api(authorizer, lambda_context):
    out = authorizer.lambda_handler(fixture("apigw_authorizer_token"), lambda_context)
    assert out["context"] == {"tenantId": "acme", "sub": "cli:acme", "scopes": "api:read api:write"}
    (statement,) = out["policyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert all(r.startswith("arn:aws:execute-api:us-east-1:123456789012:abc123defg/v1/") for r in statement["Resource"])


def test_token_printed_by_guardian_token_is_accepted(authorizer, lambda_context, capsys, monkeypatch):
    monkeypatch.setenv("GUARDIAN_TOKEN_KEY", "x" * 40)
    assert guardian(["token", "--tenant", "globex", "--scope", "api:read", "--ttl", "600"]) == 0
    token = capsys.readouterr().out.strip()
    event = fixture("apigw_authorizer_request")
    event["headers"]["Authorization"] = f"Bearer {token}"
    out = authorizer.lambda_handler(event, lambda_context)
    assert out["context"]["tenantId"] == "globex" and out["context"]["scopes"] == "api:read"
    assert out["policyDocument"]["Statement"][0]["Resource"] == [
        "arn:aws:execute-api:us-east-1:123456789012:abc123defg/v1/GET/*"
    ]


def test_refusals_are_401_and_logged_without_the_token(authorizer, lambda_context):
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(authorizer.logger.registered_formatter)  # the JSON lines CloudWatch would get
    logging.getLogger(authorizer.logger.name).addHandler(handler)
    event = fixture("apigw_authorizer_token")
    token = sign_token(b"z" * 32, "acme")  # signed with a key the authorizer does not hold
    event["authorizationToken"] = f"Bearer {token}"
    try:
        with pytest.raises(Exception, match=r"^Unauthorized$"):
            authorizer.lambda_handler(event, lambda_context)
    finally:
        logging.getLogger(authorizer.logger.name).removeHandler(handler)
    logs = buffer.getvalue()
    assert "bad signature" in logs
    assert token not in logs and token.split(".")[1] not in logs


def test_key_from_ssm_securestring(aws, authorizer, lambda_context, monkeypatch):
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
    client("ssm").put_parameter(Name="/anomaly-guardian/test/token-key", Value=SSM_KEY, Type="SecureString")
    monkeypatch.setenv("TOKEN_SIGNING_KEY_PARAM", "/anomaly-guardian/test/token-key")
    monkeypatch.setenv("ENVIRONMENT", "prod")
    authorizer._settings_for_period.cache_clear()
    event = fixture("apigw_authorizer_token")
    with pytest.raises(Exception, match="Unauthorized"):  # the dev-key fixture token is not valid in prod
        authorizer.lambda_handler(event, lambda_context)
    event["authorizationToken"] = f"Bearer {sign_token(SSM_KEY.encode(), 'acme', scopes=['events:write'])}"
    out = authorizer.lambda_handler(event, lambda_context)
    assert out["policyDocument"]["Statement"][0]["Resource"] == [
        "arn:aws:execute-api:us-east-1:123456789012:abc123defg/v1/POST/events"
    ]
    parameters.clear_caches()


def test_no_key_outside_local_fails_closed(authorizer, lambda_context, monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "prod")
    authorizer._settings_for_period.cache_clear()
    with pytest.raises(Exception, match="Unauthorized"):
        authorizer.lambda_handler(fixture("apigw_authorizer_token"), lambda_context)


def test_the_committed_fixture_token_with_a_75_year_expiry_is_refused(authorizer, lambda_context):
    event = json.loads((EVENTS / "apigw_authorizer_token.json").read_text())  # exp 2100, dev key
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.lambda_handler(event, lambda_context)


@pytest.fixture
def cognito_pool(monkeypatch):
    """A user pool's JWKS served over HTTP (what PyJWKClient fetches from .well-known/jwks.json)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key())) | {
        "kid": "k1",
        "use": "sig",
        "alg": "RS256",
    }
    served: list[str] = []

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self):
            served.append(self.path)
            body = json.dumps({"keys": [jwk]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Console"
    monkeypatch.setenv("GUARDIAN_TOKEN_JWKS_URL", f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json")
    monkeypatch.setenv("GUARDIAN_TOKEN_EXTERNAL_ISSUER", issuer)
    monkeypatch.setenv("GUARDIAN_TOKEN_EXTERNAL_AUDIENCE", "console-client-id")

    def sign(**claims):
        base = {"iss": issuer, "aud": "console-client-id", "sub": "3f1c-analyst", "token_use": "id"}
        now = int(time.time())
        payload = base | {"iat": now, "exp": now + 3600, "custom:tenantId": "globex"} | claims
        return jwt.encode(payload, private, algorithm="RS256", headers={"kid": "k1"})

    yield sign, served
    server.shutdown()


def test_cognito_id_token_from_the_pools_jwks_maps_tenant_and_groups(
    authorizer, lambda_context, cognito_pool, monkeypatch
):
    sign, served = cognito_pool
    monkeypatch.setenv("ENVIRONMENT", "prod")  # no HS256 key: Cognito tokens alone must work
    authorizer._settings_for_period.cache_clear()
    event = fixture("apigw_authorizer_token")
    event["authorizationToken"] = f"Bearer {sign(**{'cognito:groups': ['analyst']})}"
    out = authorizer.lambda_handler(event, lambda_context)
    assert out["context"] == {"tenantId": "globex", "sub": "3f1c-analyst", "scopes": "api:read api:write"}
    assert out["principalId"] == "globex|3f1c-analyst"
    assert served == ["/.well-known/jwks.json"]
    event["authorizationToken"] = f"Bearer {sign(**{'cognito:groups': ['viewer']})}"
    assert authorizer.lambda_handler(event, lambda_context)["policyDocument"]["Statement"][0]["Resource"] == [
        "arn:aws:execute-api:us-east-1:123456789012:abc123defg/v1/GET/*"
    ]
    assert len(served) == 1  # the key is cached between calls


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "another-app-client"},
        {"token_use": "access"},
        {"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other"},
        {"custom:tenantId": "../acme"},
    ],
)
def test_cognito_tokens_of_another_client_pool_or_kind_are_refused(
    authorizer, lambda_context, cognito_pool, monkeypatch, claims
):
    sign, _ = cognito_pool
    authorizer._settings_for_period.cache_clear()
    event = fixture("apigw_authorizer_token")
    event["authorizationToken"] = f"Bearer {sign(**claims)}"
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.lambda_handler(event, lambda_context)
