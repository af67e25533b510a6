"""Webhook secrets at rest: Given a secret, When sealed for tenant A, Then only tenant A's context opens it."""

import pytest

from anomaly_guardian.adapters.secrets import LocalSecretBox, SecretError, secret_box_from_env


def test_local_box_round_trip_and_tenant_binding():
    box = LocalSecretBox(b"k")
    blob = box.encrypt("acme", "s3cret-value")
    assert "s3cret" not in blob and blob.startswith("local:v1:")
    assert box.decrypt("acme", blob) == "s3cret-value"
    with pytest.raises(SecretError, match="this tenant"):
        box.decrypt("globex", blob)


def test_no_local_fallback_outside_local_environments(monkeypatch):
    monkeypatch.delenv("SECRETS_KMS_KEY_ID", raising=False)
    monkeypatch.setenv("ENVIRONMENT", "prod")
    with pytest.raises(SecretError, match="SECRETS_KMS_KEY_ID"):
        secret_box_from_env()
