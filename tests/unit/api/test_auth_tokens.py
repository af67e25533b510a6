"""Tokens and authorizer decisions: Given a token, When verified, Then tenant/scopes or a named refusal."""

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from anomaly_guardian.auth.authorizer import Unauthorized, authorize
from anomaly_guardian.auth.tokens import TokenError, TokenSettings, sign_token, verify_token

KEY = b"k" * 32
NOW = 1_800_000_000.0
ARN = "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/anomalies"
SETTINGS = TokenSettings(hs256_key=KEY)


def token(**kw):
    return sign_token(KEY, kw.pop("tenant", "acme"), now=kw.pop("now", NOW), **kw)


def test_round_trip_carries_tenant_subject_and_scopes():
    claims = verify_token(token(scopes=["api:read"], subject="alice"), SETTINGS, now=NOW + 10)
    assert (claims.tenant, claims.subject, claims.scopes) == ("acme", "alice", ("api:read",))


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: token(ttl_seconds=60), "token expired"),
        (lambda: sign_token(b"x" * 32, "acme", now=NOW), "bad signature"),
        (lambda: token(issuer="someone-else"), "wrong issuer"),
        (lambda: token(audience="other-api"), "wrong audience"),
        (lambda: jwt.encode({"tenantId": "acme", "exp": NOW + 99}, KEY, algorithm="HS256"), "missing claim"),
        (lambda: jwt.encode({"x": 1}, KEY, algorithm="HS512"), "algorithm 'HS512' not accepted"),
        (lambda: jwt.encode({"x": 1}, "", algorithm="none"), "algorithm 'none' not accepted"),
        (lambda: "not.a.jwt", "token is not a JWT"),
    ],
)
def test_refusals_name_the_reason(make, reason):
    with pytest.raises(TokenError) as err:
        verify_token(make(), SETTINGS, now=NOW + 120)
    assert reason in err.value.reason


def test_forged_tenant_claim_with_separator_is_refused():
    forged = jwt.encode(
        {"iss": "anomaly-guardian", "aud": "anomaly-guardian-api", "sub": "x", "exp": NOW + 60, "tenantId": "a#T#b"},
        KEY,
        algorithm="HS256",
    )
    with pytest.raises(TokenError, match="valid tenant"):
        verify_token(forged, SETTINGS, now=NOW)


@pytest.mark.parametrize("kw", [{"tenant": "a#b"}, {"tenant": ""}, {"scopes": ["root"]}, {"ttl_seconds": 10**9}])
def test_signing_refuses_bad_inputs(kw):
    with pytest.raises(ValueError):
        token(**kw)


def test_short_keys_are_refused():
    with pytest.raises(ValueError, match="at least 32 bytes"):
        sign_token(b"short", "acme")


def test_rs256_issuer_with_cognito_style_tenant_claim():
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    settings = TokenSettings(
        issuer="https://cognito-idp.eu-west-1.amazonaws.com/pool",
        audience="client-id",
        tenant_claim="custom:tenantId",
        rs256_key_for=lambda _t: pem,
    )
    claims = {"iss": settings.issuer, "aud": "client-id", "sub": "u1", "exp": NOW + 60, "custom:tenantId": "globex"}
    good = jwt.encode(claims | {"scope": "api:read"}, private, algorithm="RS256")
    assert verify_token(good, settings, now=NOW).tenant == "globex"
    # An HS256 token signed with the public key as secret (alg confusion) must not pass.
    with pytest.raises(TokenError, match="not accepted"):
        verify_token(jwt.encode(claims, b"p" * 64, algorithm="HS256"), settings, now=NOW)


class TestAuthorizer:
    def test_token_event_gets_policy_for_this_api_and_stage_only(self):
        event = {"type": "TOKEN", "authorizationToken": f"Bearer {token(scopes=['api:read'])}", "methodArn": ARN}
        out = authorize(event, SETTINGS, now=NOW)
        statement = out["policyDocument"]["Statement"][0]
        assert statement["Effect"] == "Allow"
        assert statement["Resource"] == ["arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/*"]
        assert out["context"] == {"tenantId": "acme", "sub": "cli:acme", "scopes": "api:read"}

    def test_write_scope_allows_mutating_methods(self):
        event = {"type": "REQUEST", "headers": {"authorization": f"bearer {token()}"}, "methodArn": ARN}
        resources = authorize(event, SETTINGS, now=NOW)["policyDocument"]["Statement"][0]["Resource"]
        assert {r.rsplit("/", 2)[-2] for r in resources} == {"GET", "POST", "PUT", "DELETE", "PATCH"}

    @pytest.mark.parametrize("header", ["", "Basic abc", "Bearer ", "Bearer garbage"])
    def test_missing_or_bad_tokens_raise_unauthorized(self, header):
        with pytest.raises(Unauthorized) as err:
            authorize({"type": "TOKEN", "authorizationToken": header, "methodArn": ARN}, SETTINGS, now=NOW)
        assert str(err.value) == "Unauthorized"

    def test_bad_method_arn_is_refused(self):
        with pytest.raises(Unauthorized):
            authorize({"type": "TOKEN", "authorizationToken": f"Bearer {token()}", "methodArn": "x"}, SETTINGS)


def _claims(**extra):
    return {"iss": "anomaly-guardian", "aud": "anomaly-guardian-api", "sub": "x", "tenantId": "acme"} | extra


@pytest.mark.parametrize(
    "claims",
    [
        _claims(exp=NOW + 10 * 365 * 86400),  # ten years out, properly signed
        _claims(exp=NOW + 8 * 86400, iat=NOW),
        _claims(exp=NOW + 3600, iat=NOW - 30 * 86400),  # issued a month ago for 30 days
    ],
)
def test_a_token_that_claims_to_live_longer_than_7_days_is_refused(claims):
    with pytest.raises(TokenError, match="lifetime exceeds 7 days"):
        verify_token(jwt.encode(claims, KEY, algorithm="HS256"), SETTINGS, now=NOW)


def test_a_7_day_token_is_accepted_for_its_whole_life():
    seven_days = token(ttl_seconds=7 * 86400)
    assert verify_token(seven_days, SETTINGS, now=NOW).tenant == "acme"
    assert verify_token(seven_days, SETTINGS, now=NOW + 7 * 86400 - 1).tenant == "acme"
