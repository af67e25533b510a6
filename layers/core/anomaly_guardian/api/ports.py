"""The API's ports: what the routers call on each collaborator (`deps.Services`), as Protocols.

The adapters in `adapters/` implement them (mypy checks that `wiring.api_services` passes conforming
objects); tests may pass any object with these methods (`app.dependency_overrides[current_services]`).
Each Protocol names the adapter it describes; add a method here when a router starts using it.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from anomaly_guardian.detection.builtin import Override
    from anomaly_guardian.detection.rules import Rule, RuleSpec
    from anomaly_guardian.detection.suppression import Pattern
    from anomaly_guardian.response.correlation import Incident


class ConfigStore(Protocol):
    """config_repo.ConfigRepository"""

    def builtin_overrides(self, tenant: str) -> dict[str, Override]: ...

    def builtin_history(self, tenant: str, rule_id: str) -> list[dict[str, Any]]: ...

    def put_builtin(
        self,
        tenant: str,
        rule_id: str,
        *,
        threshold: float,
        enabled: bool,
        expected_version: int,
        actor: str,
        old: Mapping[str, Any],
    ) -> Override: ...

    def delete_webhook(self, tenant: str, webhook_id: str) -> None: ...

    def get_settings(self, tenant: str) -> dict[str, Any]: ...

    def put_settings(self, tenant: str, settings: Mapping[str, Any]) -> dict[str, Any]: ...

    def list_webhooks(self, tenant: str) -> list[dict[str, Any]]: ...

    def get_webhook(self, tenant: str, webhook_id: str) -> dict[str, Any]: ...

    def create_webhook(self, tenant: str, webhook: Mapping[str, Any]) -> dict[str, Any]: ...

    def put_budget(
        self, tenant: str, rule_id: str, *, alert_budget: float | None, score_floor: float | None, actor: str
    ) -> Override: ...

    def delete_rule(self, tenant: str, rule_id: str) -> None: ...

    def delete_suppression(self, tenant: str, pattern: Pattern) -> bool: ...

    def get_rule(self, tenant: str, rule_id: str) -> Rule: ...

    def put_suppression(self, tenant: str, pattern: Pattern, expires_at: int, attrs: Mapping[str, Any]) -> dict: ...

    def replace_rule_checked(self, tenant: str, rule_id: str, spec: RuleSpec, expected_version: int | None) -> Rule: ...

    def list_rules(self, tenant: str, include_deleted: bool = False) -> list[Rule]: ...

    def create_rule(self, tenant: str, spec: RuleSpec) -> Rule: ...


class AnomalyStore(Protocol):
    """anomalies.AnomalyRepository"""

    def get(self, tenant: str, anomaly_id: str) -> dict[str, Any] | None: ...

    def query(
        self,
        tenant: str,
        *,
        severity: str | None = None,
        from_date: datetime | str | None = None,
        to_date: datetime | str | None = None,
        user_id: str | None = None,
        anomaly_type: str | None = None,
        limit: int = 100,
        next_token: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]: ...

    def set_feedback(self, tenant: str, anomaly_id: str, feedback: dict[str, Any]) -> dict[str, Any]: ...

    def user_anomalies(self, tenant: str, user_pseudonym: str) -> list[dict[str, Any]]: ...

    def delete_user(self, tenant: str, user_pseudonym: str) -> int: ...


class AuditPort(Protocol):
    """audit.AuditLog"""

    def record(self, tenant: str, entry: Mapping[str, Any]) -> str: ...


class BlockListPort(Protocol):
    """blocklist_admin.BlockListAdmin"""

    def get(self, tenant: str, sk: str) -> dict[str, Any] | None: ...

    def erase_user(self, tenant: str, user_pseudonym: str) -> int: ...


class CountersPort(Protocol):
    """counters.TenantCounters"""

    def totals(self, tenants: Iterable[str], start: datetime, end: datetime) -> dict[str, int]: ...


class SecretBoxPort(Protocol):
    """secrets.SecretBox"""

    def encrypt(self, tenant: str, plaintext: str) -> str: ...

    def decrypt(self, tenant: str, blob: str) -> str: ...


class IncidentStore(Protocol):
    """incidents.IncidentRepository (`builtins.list`: the method `list` shadows the type in this body)"""

    def list(
        self,
        tenant: str,
        *,
        status: str | None = None,
        severity: str | None = None,
        limit: int = 50,
        next_token: str | None = None,
    ) -> tuple[builtins.list[Incident], str | None]: ...

    def get(self, tenant: str, incident_id: str) -> Incident: ...

    def set_status(self, tenant: str, incident_id: str, status: str, reason: str, at: str) -> None: ...

    def list_reviews(
        self, tenant: str, status: str | None = None, limit: int = 50
    ) -> builtins.list[dict[str, Any]]: ...

    def get_review(self, tenant: str, review_id: str) -> dict[str, Any]: ...

    def decide_review(self, tenant: str, review_id: str, decision: str, reviewer: str, note: str, at: str) -> dict: ...

    def expire_review(self, tenant: str, review_id: str) -> None: ...

    def reopen_review(self, tenant: str, review_id: str) -> None: ...


class TaskTokens(Protocol):
    """stepfunctions.Workflows"""

    def succeed(self, token: str, output: Mapping[str, Any]) -> None: ...

    def fail(self, token: str, error: str, cause: str) -> None: ...


class WebhookQueuePort(Protocol):
    """queues.Queue"""

    def send(
        self, body: Mapping[str, Any], delay_seconds: int = 0, attributes: Mapping[str, str] | None = None
    ) -> str: ...

    def send_batch(self, bodies: Sequence[Mapping[str, Any]]) -> int: ...
