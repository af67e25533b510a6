"""The AWS-facing collaborators of the response side, built once per Lambda container from env vars.

Optional ports (WAF, SNS, the webhook queue, the event bus) are None when their variable is unset,
and the actions that need them then fail with a message naming the missing variable.
"""

from __future__ import annotations

import os
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


def ports_from_env() -> Ports:
    from anomaly_guardian.adapters.anomalies import AnomalyRepository
    from anomaly_guardian.adapters.audit import AuditLog
    from anomaly_guardian.adapters.blocklist_admin import BlockListAdmin
    from anomaly_guardian.adapters.config_repo import ConfigRepository
    from anomaly_guardian.adapters.events import EventBus
    from anomaly_guardian.adapters.incidents import IncidentRepository
    from anomaly_guardian.adapters.queues import Queue
    from anomaly_guardian.adapters.sns import AlertTopic
    from anomaly_guardian.adapters.stepfunctions import Workflows
    from anomaly_guardian.adapters.waf import WafIpSet

    env = os.environ
    return Ports(
        config=ConfigRepository(),
        audit=AuditLog(),
        blocks=BlockListAdmin(),
        incidents=IncidentRepository(),
        anomalies=AnomalyRepository(),
        workflows=Workflows() if env.get("REMEDIATION_STATE_MACHINE_ARN") else None,
        waf=WafIpSet() if env.get("WAF_IP_SET_ID") and env.get("WAF_IP_SET_NAME") else None,
        alerts=AlertTopic() if env.get("ALERTS_TOPIC_ARN") else None,
        webhook_queue=Queue(env["WEBHOOK_QUEUE_URL"]) if env.get("WEBHOOK_QUEUE_URL") else None,
        webhook_dlq=Queue(env["WEBHOOK_DLQ_URL"]) if env.get("WEBHOOK_DLQ_URL") else None,
        bus=EventBus() if env.get("EVENT_BUS_NAME") else None,
    )
