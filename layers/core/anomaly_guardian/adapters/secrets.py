"""Secrets at rest (webhook signing secrets): envelope-free KMS Encrypt/Decrypt, or AES-GCM locally.

In AWS, `SECRETS_KMS_KEY_ID` names the customer-managed KMS key; every ciphertext is bound to its
tenant by the KMS encryption context {"tenantId", "purpose"}, so a ciphertext copied into another
tenant's item does not decrypt. Secrets are at most 256 bytes, well under KMS's 4 KiB Encrypt limit.

Locally (no key id, `ENVIRONMENT` local/unset) an AES-256-GCM key derived from `GUARDIAN_SECRET_KEY`
(or a fixed development key) is used, with the tenant as associated data; outside local
environments there is no fallback: configuring KMS is required.
"""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from anomaly_guardian.adapters.dynamodb import client

PURPOSE = "webhook-secret"
DEV_SECRET_KEY = b"anomaly-guardian-local-development-secret-key"
LOCAL_ENVIRONMENTS = frozenset({"", "local", "test"})


class SecretError(RuntimeError):
    pass


class SecretBox(Protocol):
    def encrypt(self, tenant: str, plaintext: str) -> str: ...

    def decrypt(self, tenant: str, blob: str) -> str: ...


class KmsSecretBox:
    prefix = "kms:v1:"

    def __init__(self, key_id: str, kms: Any | None = None):
        self.key_id = key_id
        self._kms = kms

    @property
    def kms(self) -> Any:
        if self._kms is None:
            self._kms = client("kms")
        return self._kms

    def encrypt(self, tenant: str, plaintext: str) -> str:
        resp = self.kms.encrypt(
            KeyId=self.key_id,
            Plaintext=plaintext.encode(),
            EncryptionContext={"tenantId": tenant, "purpose": PURPOSE},
        )
        return self.prefix + base64.b64encode(resp["CiphertextBlob"]).decode()

    def decrypt(self, tenant: str, blob: str) -> str:
        if not blob.startswith(self.prefix):
            raise SecretError("not a KMS ciphertext")
        try:
            resp = self.kms.decrypt(
                CiphertextBlob=base64.b64decode(blob[len(self.prefix) :]),
                EncryptionContext={"tenantId": tenant, "purpose": PURPOSE},
                KeyId=self.key_id,
            )
        except self.kms.exceptions.InvalidCiphertextException:
            raise SecretError("secret does not decrypt for this tenant") from None
        return resp["Plaintext"].decode()


class LocalSecretBox:
    prefix = "local:v1:"

    def __init__(self, key: bytes):
        self._aead = AESGCM(hashlib.sha256(key).digest())

    def encrypt(self, tenant: str, plaintext: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), f"{tenant}\x1f{PURPOSE}".encode())
        return self.prefix + base64.b64encode(nonce + sealed).decode()

    def decrypt(self, tenant: str, blob: str) -> str:
        if not blob.startswith(self.prefix):
            raise SecretError("not a local ciphertext")
        raw = base64.b64decode(blob[len(self.prefix) :])
        try:
            return self._aead.decrypt(raw[:12], raw[12:], f"{tenant}\x1f{PURPOSE}".encode()).decode()
        except InvalidTag:
            raise SecretError("secret does not decrypt for this tenant") from None


def secret_box(kms_key_id: str | None, environment: str, local_key: str | None = None) -> SecretBox:
    """KMS when `SECRETS_KMS_KEY_ID` is set; only the local stack and tests fall back to a local key
    (`GUARDIAN_SECRET_KEY`, else the development key). wiring passes the function's settings."""
    if kms_key_id:
        return KmsSecretBox(kms_key_id)
    if environment not in LOCAL_ENVIRONMENTS:
        raise SecretError("SECRETS_KMS_KEY_ID is required outside local environments")
    return LocalSecretBox(local_key.encode() if local_key else DEV_SECRET_KEY)
