"""Scheduled (EventBridge rate(5 minutes)): lift expired blocks, holds and flags; reconcile the WAF IP set."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from anomaly_guardian import wiring
from anomaly_guardian.response.expiry import sweep

logger = Logger()
metrics = Metrics(namespace="AnomalyGuardian")
ports = wiring.response_ports()  # validates ResponseSettings at cold start


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    result = sweep(ports)
    metrics.add_metric(name="BlocksLifted", unit=MetricUnit.Count, value=result["expired"])
    logger.info("sweep done", **result)
    return result
