"""What the routers need (repositories, secret box, DNS resolver, state store, pseudonymiser), built
once per process on first use by the factory functions/api/app.py configures (`wiring.api_services`,
from the settings validated at cold start). Routers take them as a Powertools dependency
(`svc: ServicesDep`); tests override `current_services` in `app.dependency_overrides` (older tests
still call `use_services`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Depends
from aws_lambda_powertools.event_handler.request import Request

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
    eraser: Any = None  # erasure.service.SubjectEraser (DELETE /subjects); None: tables of this object only
    counters: Any = None  # adapters.counters.TenantCounters (events per tenant and hour: GET /detectors)
    resolve: Resolver = system_resolver
    detectors: Callable[[], list[Any]] = field(default=lambda: _default_detectors())


def _default_detectors() -> list[Any]:
    from anomaly_guardian.detection.registry import build_detectors

    return build_detectors()


_factory: Callable[[], Services] | None = None


def configure(factory: Callable[[], Services]) -> None:
    """functions/api/app.py: how to build the services on first use (`wiring.api_services`)."""
    global _factory
    _factory = factory
    use_services(None)


def services_from_env() -> Services:
    """The services the configured factory builds (the function's settings, read at cold start)."""
    if _factory is None:
        raise RuntimeError("API services are not configured: functions/api/app.py calls deps.configure(...)")
    return _factory()


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


def current_services() -> Services:
    """The routers' dependency: `svc: ServicesDep` (Powertools `Depends`). Tests override it with
    `app.dependency_overrides[current_services] = lambda: fake_services`."""
    return services()


def current_tenant(request: Request) -> str:
    """The caller's tenant as a dependency: `tenant: TenantDep`."""
    return tenant_of(request.resolved_event.raw_event)


ServicesDep = Annotated[Services, Depends(current_services)]
TenantDep = Annotated[str, Depends(current_tenant)]


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
    record_audit(services(), raw_event, tenant, action, subject, **details)


def record_audit(svc: Services, raw_event: dict[str, Any], tenant: str, action: str, subject: str, **details: Any):
    """`audit` with the services the route received (through `Depends`)."""
    log = svc.audit
    if log is not None:
        log.record(
            tenant,
            {"action": action, "subject": subject, "actor": actor_of(raw_event), "result": "ok", "source": "api"}
            | details,
        )
