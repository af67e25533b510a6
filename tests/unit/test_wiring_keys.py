"""The keys wiring derives for alert links and page tokens: GUARDIAN_ACTION_LINK_KEY / GUARDIAN_PAGINATION_KEY
when set, else the token signing key, read only when first needed."""

from __future__ import annotations

import hashlib
import hmac

from anomaly_guardian import wiring
from anomaly_guardian.adapters.anomalies import pagination_key
from anomaly_guardian.auth.action_links import link_key
from anomaly_guardian.settings import ResponseSettings

TABLES = {
    n: n.lower() for n in ("CONFIG_TABLE", "AUDIT_TABLE", "BLOCKLIST_TABLE", "INCIDENTS_TABLE", "ANOMALIES_TABLE")
}


def links(env: dict[str, str]):
    return wiring.response_ports(
        ResponseSettings.from_env(TABLES | {"AWS_DEFAULT_REGION": "us-east-1"} | env)
    ).alert_links


def test_alert_links_use_the_explicit_key_else_the_token_signing_key(monkeypatch):
    monkeypatch.setenv("GUARDIAN_TOKEN_KEY", "the-signing-key")
    explicit = links({"ALERT_LINKS_API_URL": "https://api.example", "GUARDIAN_ACTION_LINK_KEY": "link-key"})
    assert explicit.key() == link_key(b"link-key")
    derived = links({"ALERT_LINKS_API_URL": "https://api.example"})
    assert derived.key() == link_key(b"the-signing-key") != explicit.key()
    assert links({}).key is None  # no API URL: alerts carry no signed links


def test_page_tokens_use_the_explicit_key_else_the_signing_key_only_when_needed():
    calls = []

    def signing() -> bytes:
        calls.append(1)
        return b"signing"

    explicit = pagination_key(wiring._key_or("explicit", signing))
    assert explicit != pagination_key(wiring._key_or(None, signing))
    assert calls == [1]  # the explicit key never reads the signing key
    expected = hmac.new(b"signing", b"anomaly-guardian/anomalies-pagination/v1", hashlib.sha256).digest()
    assert pagination_key(wiring._key_or(None, signing)) == expected
