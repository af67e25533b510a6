"""The AWS-facing collaborators of the response side, built once per Lambda container by
`anomaly_guardian.wiring.response_ports()` from `settings.ResponseSettings`.

Optional ports (WAF, SNS, the webhook queue, the event bus) are None when their variable is unset,
and the actions that need them then fail with a message naming the missing variable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Ports:
    config: Any  # adapters.config_repo.ConfigRepository
    audit: Any  # adapters.audit.AuditLog
    blocks: Any  # adapters.blocklist_admin.BlockListAdmin
    incidents: Any  # adapters.incidents.IncidentRepository
    anomalies: Any  # adapters.anomalies.AnomalyRepository
    workflows: Any = None  # adapters.stepfunctions.Workflows
    waf: Any = None  # adapters.waf.WafIpSet
    alerts: Any = None  # adapters.sns.AlertTopic
    webhook_queue: Any = None  # adapters.queues.Queue
    webhook_dlq: Any = None  # adapters.queues.Queue
    bus: Any = None  # adapters.events.EventBus
    alert_links: Any = None  # usage.alerts.LinkSettings: links and signed actions in usage alerts
    global_dry_run: bool = False  # RESPONSE_DRY_RUN: every tenant's actions only log (response.safety)
    allow_loopback: bool = False  # GUARDIAN_WEBHOOK_ALLOW_LOOPBACK: local stack and tests only
