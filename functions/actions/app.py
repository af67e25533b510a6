"""Remediation task steps (plan, execute an action, open/apply a review, record, fail), called by
statemachines/remediation.asl.json with {"op": ...}. Errors keep their class name as the Lambda
errorType, which the workflow's Retry (TransientActionError) and Catch match on."""

from aws_lambda_powertools import Logger, Metrics, Tracer

from anomaly_guardian.response.ports import ports_from_env
from anomaly_guardian.response.workflow import handle

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="AnomalyGuardian")
ports = ports_from_env()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return handle(ports, event)
