"""CloudTrail (via a CloudWatch Logs subscription) -> usage events on the Kinesis stream."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from anomaly_guardian import wiring
from anomaly_guardian.usage.service import UsageResult

logger = Logger()
metrics = Metrics()
service = wiring.usage_ingest_service()  # validates UsageIngestSettings at cold start


def report(result: UsageResult) -> dict:
    metrics.add_metric(name="UsageEventsAccepted", unit=MetricUnit.Count, value=result.accepted)
    metrics.add_metric(name="UsageRecordsRejected", unit=MetricUnit.Count, value=len(result.rejected))
    metrics.add_metric(name="TrailDocumentsIndexed", unit=MetricUnit.Count, value=result.indexed)
    metrics.add_metric(name="TrailDocumentsRejected", unit=MetricUnit.Count, value=len(result.index_rejected))
    for log_id, reason in result.rejected:
        logger.warning("usage record rejected", extra={"logEventId": log_id, "reason": reason})
    for event_id, reason in result.index_rejected:  # ids and reasons only: no principal, no IP in the logs
        logger.warning("trail document not indexed", extra={"eventID": event_id, "reason": reason})
    return {"accepted": result.accepted, "rejected": len(result.rejected), "indexed": result.indexed}


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return report(service.handle(event))
