"""Anomalies table stream -> OpenSearch (search, dashboards, anomaly detection). Logic in anomaly_guardian.search."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from anomaly_guardian import wiring
from anomaly_guardian.search.indexer import IndexResult

logger = Logger()
metrics = Metrics()
indexer = wiring.search_indexer()  # validates SearchIndexerSettings at cold start


def report(result: IndexResult) -> dict:
    metrics.add_metric(name="AnomaliesIndexed", unit=MetricUnit.Count, value=result.indexed)
    metrics.add_metric(name="AnomaliesUnindexed", unit=MetricUnit.Count, value=result.deleted)
    metrics.add_metric(name="IndexRetries", unit=MetricUnit.Count, value=len(result.retry))
    metrics.add_metric(name="IndexRejected", unit=MetricUnit.Count, value=len(result.rejected))
    for seq, reason in result.rejected + result.skipped:
        logger.warning("stream record not indexed", extra={"sequenceNumber": seq, "reason": reason})
    return result.response()


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return report(indexer.handle(event["Records"]))
