"""The AWS-facing collaborators of the response side, built once per Lambda container by
`anomaly_guardian.wiring.response_ports()` from `settings.ResponseSettings`.

Each port is a Protocol naming the adapter that implements it: mypy checks that `wiring` passes
conforming adapters and that the response code calls only what a port declares; tests may pass any
object with these methods. Add a method here when the response code starts using it.

Optional ports (WAF, SNS, the webhook queue, the event bus) are None when their variable is unset,
and the actions that need them then fail with a message naming the missing variable.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from anomaly_guardian.models.anomaly import Anomaly
    from anomaly_guardian.response.correlation import Incident
    from anomaly_guardian.usage.alerts import LinkSettings


class ResponseConfig(Protocol):
    """adapters.config_repo.ConfigRepository: tenant switches and webhook registrations."""

    def get_settings(self, tenant: str) -> dict[str, Any]: ...

    def get_webhook(self, tenant: str, webhook_id: str) -> dict[str, Any]: ...

    def list_webhooks(self, tenant: str) -> list[dict[str, Any]]: ...


class ActionAudit(Protocol):
    """adapters.audit.AuditLog: the audit trail, idempotency claims and per-hour action caps."""

    def record(self, tenant: str, entry: Mapping[str, Any]) -> str: ...

    def claim(self, tenant: str, key: str, now: float | None = None) -> dict[str, Any] | None: ...

    def complete(self, tenant: str, key: str, result: Mapping[str, Any]) -> None: ...

    def release(self, tenant: str, key: str) -> None: ...

    def take_capacity(self, tenant: str, action: str, cap: int, now: float | None = None) -> bool: ...

    def give_back(self, tenant: str, action: str, now: float | None = None) -> None: ...


class BlockStore(Protocol):
    """adapters.blocklist_admin.BlockListAdmin: blocks, holds and flags, with their expiry."""

    def get(self, tenant: str, sk: str) -> dict[str, Any] | None: ...

    def put(self, tenant: str, sk: str, expires_at: int, attrs: Mapping[str, Any]) -> None: ...

    def update(self, tenant: str, sk: str, attrs: Mapping[str, Any]) -> None: ...

    def delete(self, tenant: str, sk: str, expires_at: int | None = None) -> bool: ...

    def scan_blocks(self) -> Iterator[dict[str, Any]]: ...

    def scan_expired(self, now: float | None = None, prefixes: tuple[str, ...] = ...) -> Iterator[dict[str, Any]]: ...


class IncidentLog(Protocol):
    """adapters.incidents.IncidentRepository: incidents and pending reviews."""

    def candidates(self, tenant: str, entities: Mapping[str, str]) -> list[Incident]: ...

    def save(self, incident: Incident, window_seconds: int = ...) -> None: ...

    def set_status(self, tenant: str, incident_id: str, status: str, reason: str, at: str) -> None: ...

    def put_review(self, review: Mapping[str, Any], ttl: int) -> None: ...


class AnomalyLog(Protocol):
    """adapters.anomalies.AnomalyRepository: what the response side writes back on anomalies."""

    def put_many(self, anomalies: Sequence[Anomaly | dict[str, Any]]) -> int: ...

    def update_actions(self, tenant: str, anomaly_id: str, actions: Sequence[dict[str, Any]]) -> dict[str, Any]: ...


class WorkflowStarter(Protocol):
    """adapters.stepfunctions.Workflows: the remediation state machine."""

    def start(self, name: str, payload: Mapping[str, Any]) -> tuple[str, bool]: ...


class IpSet(Protocol):
    """adapters.waf.WafIpSet: the WAF IP set of blocked addresses."""

    def addresses(self) -> set[str]: ...

    def add(self, ips: Iterable[str]) -> bool: ...

    def remove(self, ips: Iterable[str]) -> bool: ...


class AlertPublisher(Protocol):
    """adapters.sns.AlertTopic"""

    def publish(self, subject: str, message: Mapping[str, Any], severity: str, tenant: str, event: str) -> str: ...


class MessageQueue(Protocol):
    """adapters.queues.Queue: the webhook queue and its dead-letter queue."""

    def send(
        self, body: Mapping[str, Any], delay_seconds: int = 0, attributes: Mapping[str, str] | None = None
    ) -> str: ...

    def send_batch(self, bodies: Sequence[Mapping[str, Any]]) -> int: ...


class EventPublisher(Protocol):
    """adapters.events.EventBus"""

    def put(self, detail_type: str, details: Sequence[Mapping[str, Any]]) -> int: ...


class WebhookPorts(Protocol):
    """What `response.notify.fan_out` reads: `Ports`, or the API's `WebhookFanOut` (incident.resolved)."""

    @property
    def config(self) -> ResponseConfig: ...

    @property
    def webhook_queue(self) -> MessageQueue | None: ...


@dataclass
class WebhookFanOut:
    """The two ports `fan_out` needs, for a function that has no other response ports (the API)."""

    config: ResponseConfig
    webhook_queue: MessageQueue | None


@dataclass
class Ports:
    config: ResponseConfig
    audit: ActionAudit
    blocks: BlockStore
    incidents: IncidentLog
    anomalies: AnomalyLog
    workflows: WorkflowStarter | None = None
    waf: IpSet | None = None
    alerts: AlertPublisher | None = None
    webhook_queue: MessageQueue | None = None
    webhook_dlq: MessageQueue | None = None
    bus: EventPublisher | None = None
    alert_links: LinkSettings | None = None  # links and signed actions in usage alerts
    global_dry_run: bool = False  # RESPONSE_DRY_RUN: every tenant's actions only log (response.safety)
    allow_loopback: bool = False  # GUARDIAN_WEBHOOK_ALLOW_LOOPBACK: local stack and tests only
