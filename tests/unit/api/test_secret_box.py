"""Webhook secrets at rest: Given a secret, When sealed for tenant A, Then only tenant A's context opens it."""

import pytest

from anomaly_guardian.adapters.secrets import KmsSecretBox, LocalSecretBox, SecretError, secret_box


def test_local_box_round_trip_and_tenant_binding():
    box = LocalSecretBox(b"k")
    blob = box.encrypt("acme", "s3cret-value")
    assert "s3cret" not in blob and blob.startswith("local:v1:")
    assert box.decrypt("acme", blob) == "s3cret-value"
    with pytest.raises(SecretError, match="this tenant"):
        box.decrypt("globex", blob)


def test_no_local_fallback_outside_local_environments():
    with pytest.raises(SecretError, match="SECRETS_KMS_KEY_ID"):
        secret_box(None, "prod")


def test_the_box_follows_the_settings_given():
    assert isinstance(secret_box("arn:aws:kms:us-east-1:1:key/k", "prod"), KmsSecretBox)
    sealed = secret_box(None, "test", "local-key").encrypt("acme", "v")
    assert LocalSecretBox(b"local-key").decrypt("acme", sealed) == "v"
    with pytest.raises(SecretError):
        secret_box(None, "test").decrypt("acme", sealed)  # the development key does not open it
