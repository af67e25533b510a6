"""Webhook queue consumer: signed delivery per message; retries re-queued with backoff, DLQ after the
registration's maxRetries. A record fails (partial batch response) only if requeueing itself fails."""

import json

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from anomaly_guardian import wiring
from anomaly_guardian.adapters.webhook_http import post
from anomaly_guardian.response.delivery import deliver

logger = Logger()
metrics = Metrics(namespace="AnomalyGuardian")
processor = BatchProcessor(event_type=EventType.SQS)
ports, secret_box = wiring.webhook_dispatcher()  # validates ResponseSettings at cold start


def record_handler(record: SQSRecord) -> dict:
    result = deliver(ports, json.loads(record.body), post, secret_box)
    metrics.add_metric(name=f"Webhook_{result['outcome']}", unit=MetricUnit.Count, value=1)
    return result


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
