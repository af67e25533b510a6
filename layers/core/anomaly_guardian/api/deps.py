"""What the routers need (repositories, secret box, DNS resolver, state store, pseudonymiser), built
once per process from the environment on first use, and replaceable in tests with `use_services`.

Also the caller's tenant: taken from the authorizer context only (our Lambda authorizer puts
`tenantId` there; a Cognito authorizer puts the `custom:tenantId` claim), never from the request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from anomaly_guardian.api.errors import ApiError
from anomaly_guardian.api.url_guard import Resolver, system_resolver
from anomaly_guardian.auth.tokens import valid_tenant
from anomaly_guardian.privacy import Pseudonymiser


@dataclass
class Services:
    config: Any  # adapters.config_repo.ConfigRepository
    anomalies: Any  # adapters.anomalies.AnomalyRepository
    secrets: Any  # adapters.secrets.SecretBox
    state: Any  # state.StateStore
    pseudonymiser: Pseudonymiser
    audit: Any = None  # adapters.audit.AuditLog; None: changes are not audited (unit tests only)
    blocklist: Any = None  # adapters.blocklist_admin.BlockListAdmin (erasure of a user's blocks and flags)
    resolve: Resolver = system_resolver
    detectors: Callable[[], list[Any]] = field(default=lambda: _default_detectors())


def _default_detectors() -> list[Any]:
    from anomaly_guardian.detection.registry import build_detectors

    return build_detectors()


def services_from_env() -> Services:
    from anomaly_guardian.adapters.anomalies import AnomalyRepository
    from anomaly_guardian.adapters.audit import AuditLog
    from anomaly_guardian.adapters.blocklist_admin import BlockListAdmin
    from anomaly_guardian.adapters.config_repo import ConfigRepository
    from anomaly_guardian.adapters.keys import pseudonymiser_from_env
    from anomaly_guardian.adapters.secrets import secret_box_from_env
    from anomaly_guardian.state.dynamodb import DynamoDBStateStore

    return Services(
        config=ConfigRepository(),
        anomalies=AnomalyRepository(),
        secrets=secret_box_from_env(),
        state=DynamoDBStateStore(),
        pseudonymiser=pseudonymiser_from_env(),  # same key as ingest and the detector
        audit=AuditLog(),
        blocklist=BlockListAdmin(),
    )


_lock = threading.Lock()
_services: Services | None = None


def services() -> Services:
    global _services
    if _services is None:
        with _lock:
            if _services is None:
                _services = services_from_env()
    return _services


def use_services(value: Services | None) -> None:
    """Tests: inject fakes, or None to rebuild from the environment on next use."""
    global _services
    _services = value


def tenant_of(raw_event: dict[str, Any]) -> str:
    authorizer = ((raw_event or {}).get("requestContext") or {}).get("authorizer") or {}
    claims = authorizer.get("claims") or {}
    tenant = authorizer.get("tenantId") or claims.get("custom:tenantId") or claims.get("tenantId")
    if not valid_tenant(tenant):
        # Behind the authorizer this cannot happen; without one (misconfigured stage) fail closed.
        raise ApiError(HTTPStatus.UNAUTHORIZED, "UNAUTHORIZED", "No tenant in the caller's identity")
    return tenant


def actor_of(raw_event: dict[str, Any]) -> str:
    authorizer = ((raw_event or {}).get("requestContext") or {}).get("authorizer") or {}
    return str(authorizer.get("sub") or (authorizer.get("claims") or {}).get("sub") or "unknown")


def audit(raw_event: dict[str, Any], tenant: str, action: str, subject: str, **details: Any) -> None:
    """One audit record per configuration change or erasure: who (token subject), what, on which id.
    Callers pass ids and pseudonyms only, never secrets or raw user ids."""
    log = services().audit
    if log is not None:
        log.record(
            tenant,
            {"action": action, "subject": subject, "actor": actor_of(raw_event), "result": "ok", "source": "api"}
            | details,
        )
