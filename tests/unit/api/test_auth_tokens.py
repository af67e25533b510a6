"""Tokens and authorizer decisions: Given a token, When verified, Then tenant/scopes or a named refusal."""

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from anomaly_guardian.auth.authorizer import Unauthorized, authorize
from anomaly_guardian.auth.tokens import ExternalIssuer, TokenError, TokenSettings, sign_token, verify_token

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


POOL = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Pool1"
PRIVATE = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PEM = PRIVATE.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
COGNITO = TokenSettings(
    hs256_key=KEY, external=ExternalIssuer(key_for=lambda _t: PEM, issuer=POOL, audience="client-id")
)


def id_token(**claims):
    """A Cognito-shaped ID token: aud = app client id, token_use id, custom:tenantId, cognito:groups."""
    base = {"iss": POOL, "aud": "client-id", "sub": "u1", "token_use": "id", "iat": NOW, "exp": NOW + 3600}
    return jwt.encode({"custom:tenantId": "globex"} | base | claims, PRIVATE, algorithm="RS256")


def test_cognito_id_token_maps_tenant_attribute_and_groups_to_scopes():
    claims = verify_token(id_token(**{"cognito:groups": ["analyst", "unrelated"]}), COGNITO, now=NOW)
    assert (claims.tenant, claims.subject, claims.scopes) == ("globex", "u1", ("api:read", "api:write"))
    viewer = verify_token(id_token(**{"cognito:groups": ["viewer"]}), COGNITO, now=NOW)
    assert viewer.scopes == ("api:read",)
    assert verify_token(id_token(**{"cognito:groups": ["events:write"]}), COGNITO, now=NOW).scopes == ("events:write",)
    admin = verify_token(id_token(**{"cognito:groups": ["admin"]}), COGNITO, now=NOW)
    assert admin.scopes == ("api:read", "api:write", "admin")  # the role, not only the scope of that name
    assert verify_token(id_token(), COGNITO, now=NOW).scopes == ()  # no group: signed in, allowed nothing


def test_our_hs256_tokens_still_verify_beside_the_external_issuer():
    assert verify_token(token(scopes=["api:read"]), COGNITO, now=NOW).tenant == "acme"


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"iss": "https://cognito-idp.eu-west-1.amazonaws.com/other"}, "wrong issuer"),
        ({"aud": "another-client"}, "wrong audience"),
        ({"token_use": "access"}, "not an ID token"),
        ({"custom:tenantId": "a#b"}, "claim custom:tenantId missing or not a valid tenant id"),
        ({"iss": "anomaly-guardian", "aud": "anomaly-guardian-api"}, "wrong issuer"),  # our iss, their key
    ],
)
def test_cognito_tokens_are_checked_against_the_pools_own_issuer_and_audience(claims, reason):
    with pytest.raises(TokenError, match=reason):
        verify_token(id_token(**claims), COGNITO, now=NOW)


def test_tenant_is_never_taken_from_a_claim_the_user_could_choose():
    """A tenantId claim (our HS256 name) in a Cognito token is ignored: only the admin-set attribute counts."""
    forged = id_token(tenantId="acme", **{"custom:tenantId": None})
    with pytest.raises(TokenError, match="custom:tenantId"):
        verify_token(forged, COGNITO, now=NOW)


def test_alg_confusion_with_the_public_key_as_hmac_secret_is_refused():
    settings = TokenSettings(external=COGNITO.external)
    claims = {"iss": POOL, "aud": "client-id", "sub": "u1", "exp": NOW + 60, "custom:tenantId": "globex"}
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
