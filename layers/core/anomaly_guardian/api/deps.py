"""What the routers need, as Powertools dependencies: `svc: ServicesDep` (repositories, secret box, DNS
resolver, state store, pseudonymiser, incidents, task tokens, webhook queue, report ports) and
`tenant: TenantDep` (the caller's tenant). The services are built once per process, on first use, by
the factory functions/api/app.py configures (`wiring.api_services`, from the settings validated at cold
start). Routers never reach for a module-level getter; tests override the dependency:
`app.dependency_overrides[current_services] = lambda: fake_services`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import Depends
from aws_lambda_powertools.event_handler.request import Request

from anomaly_guardian.api.errors import ApiError
from anomaly_guardian.api.ports import (
    AnomalyStore,
    AuditPort,
    BlockListPort,
    ConfigStore,
    CountersPort,
    IncidentStore,
    SecretBoxPort,
    TaskTokens,
    WebhookQueuePort,
)
from anomaly_guardian.api.url_guard import Resolver, system_resolver
from anomaly_guardian.auth.tokens import valid_tenant
from anomaly_guardian.detection.suppression import DEFAULT_DAYS
from anomaly_guardian.privacy import Pseudonymiser

if TYPE_CHECKING:
    from anomaly_guardian.erasure.service import SubjectEraser
    from anomaly_guardian.reports.service import ReportPorts
    from anomaly_guardian.response.ports import WebhookFanOut
    from anomaly_guardian.state.store import StateStore


@dataclass
class Services:
    config: ConfigStore
    anomalies: AnomalyStore
    secrets: SecretBoxPort | None
    state: StateStore
    pseudonymiser: Pseudonymiser
    audit: AuditPort | None = None  # None: changes are not audited (unit tests only)
    blocklist: BlockListPort | None = None  # erasure of a user's blocks and flags; GET /enforcement
    eraser: SubjectEraser | None = None  # DELETE /subjects; None: tables of this object only
    counters: CountersPort | None = None  # events per tenant and hour: GET /detectors
    incidents: IncidentStore | None = None  # /incidents, /reviews; None: INCIDENTS_TABLE unset
    workflows: TaskTokens | None = None  # the remediation workflow's task tokens (POST /reviews/{id})
    webhook_queue: WebhookQueuePort | None = None  # incident notifications; None: not sent
    reports: ReportPorts | None = None  # /reports; None: REPORTS_BUCKET unset
    suppression_days: int = DEFAULT_DAYS  # SUPPRESSION_DAYS: a false_positive verdict silences its pattern
    global_dry_run: bool = False  # RESPONSE_DRY_RUN: every tenant's response actions only log
    allow_webhook_loopback: bool = False  # GUARDIAN_WEBHOOK_ALLOW_LOOPBACK: local stack and tests only
    link_key: Callable[[], bytes] | None = None  # alert links' MAC key (GET/POST /alert-actions)
    resolve: Resolver = system_resolver
    detectors: Callable[[], list[Any]] = field(default=lambda: _default_detectors())

    def notifier(self) -> WebhookFanOut:
        """What `response.notify.fan_out` needs: the Config table (webhooks) and the webhook queue."""
        from anomaly_guardian.response.ports import WebhookFanOut

        return WebhookFanOut(config=self.config, webhook_queue=self.webhook_queue)


def _default_detectors() -> list[Any]:
    from anomaly_guardian.detection.registry import build_detectors

    return build_detectors()


def require(value: Any, what: str, variable: str) -> Any:
    """A port the route cannot work without: a configuration error names the variable."""
    if value is None:
        raise RuntimeError(f"{what} is not configured: set {variable} on the API function")
    return value


_factory: Callable[[], Services] | None = None
_lock = threading.Lock()
_services: Services | None = None


def configure(factory: Callable[[], Services]) -> None:
    """functions/api/app.py: how to build the services on first use (`wiring.api_services`)."""
    global _factory, _services
    _factory = factory
    _services = None


def reset_services() -> None:
    """Forget the built services: the next request builds them again (tests switch emulated AWS between cases)."""
    global _services
    _services = None


def services_from_env() -> Services:
    """A fresh set of the services the configured factory builds (the function's settings)."""
    if _factory is None:
        raise RuntimeError("API services are not configured: functions/api/app.py calls deps.configure(...)")
    return _factory()


def current_services() -> Services:
    """The routers' dependency (`svc: ServicesDep`): built once per process by the configured factory.
    Tests override it with `app.dependency_overrides[current_services] = lambda: fake_services`."""
    global _services
    if _services is None:
        with _lock:
            if _services is None:
                _services = services_from_env()
    return _services


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


def record_audit(svc: Services, raw_event: dict[str, Any], tenant: str, action: str, subject: str, **details: Any):
    """One audit record per configuration change or erasure: who (token subject), what, on which id.
    Callers pass ids and pseudonyms only, never secrets or raw user ids."""
    log = svc.audit
    if log is not None:
        log.record(
            tenant,
            {"action": action, "subject": subject, "actor": actor_of(raw_event), "result": "ok", "source": "api"}
            | details,
        )
