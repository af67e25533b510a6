"""Scheduled (ScheduleV2 cron: daily 00:15, weekly Monday 00:30, monthly 1st 00:45 UTC, Input {"period": ...}):
the period's report per active tenant and the admin roll-up -> reports bucket (JSON + HTML), SNS summary,
KPIs as EMF metrics (logic: anomaly_guardian.reports)."""

from datetime import UTC, datetime

from aws_lambda_powertools import Logger, Metrics

from anomaly_guardian import wiring
from anomaly_guardian.reports.metrics import emit_kpis
from anomaly_guardian.reports.service import scheduled

logger = Logger()
metrics = Metrics(namespace="AnomalyGuardian")
ports = wiring.report_ports(emit=lambda tenant, kpis: emit_kpis(metrics, tenant, kpis))


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    result = scheduled(ports, event, datetime.now(UTC).date())
    logger.info("reports written", **result)
    return result
