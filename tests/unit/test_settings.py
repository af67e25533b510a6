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

INGEST = {"EVENTS_STREAM_NAME": "events", "BLOCKLIST_TABLE": "blocks"}


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
