"""Each function's settings model validates its environment at cold start and names the bad variable."""

from __future__ import annotations

import pytest

from anomaly_guardian.settings import (
    IngestSettings,
    ResponseSettings,
    SearchIndexerSettings,
    SettingsError,
    UsageIngestSettings,
)

INGEST = {"EVENTS_STREAM_NAME": "events", "BLOCKLIST_TABLE": "blocks", "IDEMPOTENCY_TABLE": "idem"}


def test_ingest_settings_read_the_variables_by_their_names():
    s = IngestSettings.from_env({**INGEST, "IAM_TENANT_MAP": '{"arn:aws:iam::1:role/p": "acme"}', "OTHER": "x"})
    assert s.events_stream_name == "events" and s.blocklist_table == "blocks"
    assert s.iam_tenant_map == {"arn:aws:iam::1:role/p": "acme"} and s.pseudonym_key_param is None


def test_a_missing_variable_is_named():
    with pytest.raises(SettingsError, match=r"IngestSettings: EVENTS_STREAM_NAME: Field required"):
        IngestSettings.from_env({"BLOCKLIST_TABLE": "blocks"})


def test_an_empty_variable_counts_as_missing():
    # CloudFormation writes "" for an unset optional parameter; a required one must not pass as "".
    with pytest.raises(SettingsError, match="USAGE_TENANT_ID"):
        UsageIngestSettings.from_env({"EVENTS_STREAM_NAME": "events", "USAGE_TENANT_ID": ""})


def test_a_malformed_value_is_named_with_the_reason():
    with pytest.raises(SettingsError, match=r"IAM_TENANT_MAP: not JSON"):
        IngestSettings.from_env({**INGEST, "IAM_TENANT_MAP": "{arn: acme"})
    with pytest.raises(SettingsError, match=r"WAF_SCOPE"):
        ResponseSettings.from_env(
            {
                "CONFIG_TABLE": "c",
                "AUDIT_TABLE": "a",
                "BLOCKLIST_TABLE": "b",
                "INCIDENTS_TABLE": "i",
                "ANOMALIES_TABLE": "n",
                "WAF_SCOPE": "GLOBAL",
            }
        )


def test_every_bad_variable_is_named_at_once():
    with pytest.raises(SettingsError) as err:
        ResponseSettings.from_env({"CONFIG_TABLE": "c"})
    for name in ("AUDIT_TABLE", "BLOCKLIST_TABLE", "INCIDENTS_TABLE", "ANOMALIES_TABLE"):
        assert name in str(err.value)


def test_opensearch_endpoint_is_required_outside_the_local_stack():
    assert SearchIndexerSettings.from_env({"ENVIRONMENT": "local"}).opensearch_endpoint == ""
    with pytest.raises(SettingsError, match="OPENSEARCH_ENDPOINT: required outside the local stack"):
        SearchIndexerSettings.from_env({"ENVIRONMENT": "prod"})


def test_handlers_fail_at_cold_start_naming_the_variable(aws_env, monkeypatch, handler_module):
    monkeypatch.delenv("EVENTS_STREAM_NAME")
    with pytest.raises(SettingsError, match="EVENTS_STREAM_NAME"):
        handler_module("ingest")


def test_authorizer_settings_read_the_token_variables():
    from anomaly_guardian.auth.keys import DEV_TOKEN_KEY, load_signing_key
    from anomaly_guardian.auth.tokens import TokenSettings
    from anomaly_guardian.settings import AuthorizerSettings

    s = AuthorizerSettings.from_env({"GUARDIAN_TOKEN_ISSUER": "https://idp", "GUARDIAN_TOKEN_KEY": "k" * 40})
    verifier = TokenSettings.from_settings(s, load_signing_key(settings=s))
    assert (verifier.issuer, verifier.audience) == ("https://idp", "anomaly-guardian-api")
    assert verifier.hs256_key == b"k" * 40
    assert "k" * 40 not in repr(s)  # the key never reaches a log line through the settings object
    assert load_signing_key(settings=AuthorizerSettings.from_env({})) == DEV_TOKEN_KEY  # unset ENVIRONMENT: local


def test_authorizer_outside_local_has_no_development_key():
    from anomaly_guardian import wiring
    from anomaly_guardian.settings import AuthorizerSettings

    reasons: list[str] = []
    verifier = wiring.token_verifier(AuthorizerSettings.from_env({"ENVIRONMENT": "prod"}), reasons.append)
    assert verifier.hs256_key is None and "TOKEN_SIGNING_KEY_PARAM" in reasons[0]


def test_authorizer_and_correlator_fail_at_cold_start_naming_the_variable(aws_env, monkeypatch, handler_module):
    monkeypatch.setenv("GUARDIAN_TOKEN_JWKS_URL", "idp.example/jwks")
    with pytest.raises(SettingsError, match="GUARDIAN_TOKEN_JWKS_URL: must be an http"):
        handler_module("authorizer")
    monkeypatch.setenv("CORRELATION_WINDOW_SECONDS", "soon")
    with pytest.raises(SettingsError, match="CORRELATION_WINDOW_SECONDS"):
        handler_module("correlator")


def test_correlator_window_comes_from_its_settings():
    from anomaly_guardian.settings import CorrelatorSettings

    base = {k: "t" for k in ("CONFIG_TABLE", "AUDIT_TABLE", "BLOCKLIST_TABLE", "INCIDENTS_TABLE", "ANOMALIES_TABLE")}
    assert CorrelatorSettings.from_env(base).correlation_window_seconds == 1800
    assert CorrelatorSettings.from_env(base | {"CORRELATION_WINDOW_SECONDS": "600"}).correlation_window_seconds == 600
    with pytest.raises(SettingsError, match="CORRELATION_WINDOW_SECONDS: Input should be greater than 0"):
        CorrelatorSettings.from_env(base | {"CORRELATION_WINDOW_SECONDS": "0"})


def test_the_webhook_loopback_switch_is_refused_outside_the_local_stack():
    from anomaly_guardian.settings import ApiSettings

    # Given the switch that lets webhooks reach 127.0.0.1 (part of the SSRF guard off)
    response = {"CONFIG_TABLE": "c", "AUDIT_TABLE": "a", "BLOCKLIST_TABLE": "b", "INCIDENTS_TABLE": "i",
                "ANOMALIES_TABLE": "n", "GUARDIAN_WEBHOOK_ALLOW_LOOPBACK": "true"}  # fmt: skip
    api = {**response, "STATE_TABLE": "s", "SECRETS_KMS_KEY_ID": "alias/k"}
    # Then the local stack and tests may set it, a deployed environment may not
    assert ResponseSettings.from_env({**response, "ENVIRONMENT": "local"}).webhook_allow_loopback is True
    assert ApiSettings.from_env({**api, "ENVIRONMENT": "test"}).webhook_allow_loopback is True
    for model, env in ((ResponseSettings, response), (ApiSettings, api)):
        with pytest.raises(SettingsError, match="GUARDIAN_WEBHOOK_ALLOW_LOOPBACK: only on the local stack"):
            model.from_env({**env, "ENVIRONMENT": "prod"})
