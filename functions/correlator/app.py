"""Response queue consumer: each new anomaly joins (or opens) an incident and starts its remediation.
Malformed messages fail alone (partial batch response) and end up on the queue's DLQ."""

import json

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from anomaly_guardian import wiring
from anomaly_guardian.response.correlator import handle_message
from anomaly_guardian.response.kpi_metrics import correlation_metrics

logger = Logger()
metrics = Metrics(namespace="AnomalyGuardian")
processor = BatchProcessor(event_type=EventType.SQS)
ports, window = wiring.correlator()  # validates CorrelatorSettings at cold start


def record_handler(record: SQSRecord) -> dict:
    result = handle_message(ports, json.loads(record.body), window)
    metrics.add_metric(name="AnomaliesCorrelated", unit=MetricUnit.Count, value=1)
    if result["opened"]:
        metrics.add_metric(name="IncidentsOpened", unit=MetricUnit.Count, value=1)
    for metric, unit, value in correlation_metrics(result):  # the seed's "Incidents Created"
        metrics.add_metric(name=metric, unit=MetricUnit(unit), value=value)
    return result


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
