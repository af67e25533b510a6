"""Remediation task steps (plan, execute an action, open/apply a review, record, fail), called by
statemachines/remediation.asl.json with {"op": ...}. Errors keep their class name as the Lambda
errorType, which the workflow's Retry (TransientActionError) and Catch match on."""

import time

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from anomaly_guardian import wiring
from anomaly_guardian.response.kpi_metrics import action_metrics
from anomaly_guardian.response.workflow import handle

logger = Logger()
metrics = Metrics(namespace="AnomalyGuardian")
ports = wiring.response_ports()  # validates ResponseSettings at cold start


def run(event: dict) -> dict:
    result = handle(ports, event)
    # One count per step; for actions also by outcome (done, dry_run, skipped) for the dashboard.
    name = f"Remediation_{event.get('op')}" + (f"_{result.get('status')}" if event.get("op") == "execute" else "")
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    for metric, unit, value in action_metrics(event, result, time.time()):  # Users Blocked, Rate Limited, ...
        metrics.add_metric(name=metric, unit=MetricUnit(unit), value=value)
    return result


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return run(event)
