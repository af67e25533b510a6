"""Scheduled (ScheduleV2 rate(6 hours)): Cost Explorer GetAnomalies since the last run -> `cost` anomalies
(stored, correlated with usage anomalies, alerted). The owning tenant is USAGE_TENANT_ID, the tenant that
owns the account's CloudTrail usage."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from anomaly_guardian import wiring
from anomaly_guardian.cost.service import run

logger = Logger()
metrics = Metrics(namespace="AnomalyGuardian")
ports, settings = wiring.cost_ports()


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    tenant = settings.usage_tenant_id
    # A failing GetAnomalies fails the run (retried, then the DLQ). On the local stack the emulation's
    # stand-in answers it (anomaly_guardian/local/cost_explorer.py, fed by `guardian cost send`).
    result = run(ports, tenant, ports.config_for(tenant), lookback_days=settings.cost_lookback_days)
    metrics.add_metric(name="CostAnomaliesEmitted", unit=MetricUnit.Count, value=result.get("emitted", 0))
    logger.info("cost anomalies read", **result)
    return result
