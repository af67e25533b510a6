"""Kinesis -> detector: decode, dedupe, detect once per tenant, store (logic: anomaly_guardian.detection.batch).

Tracing is Lambda's active tracing (the function's segment, trace header carried on to AWS calls), without
the X-Ray SDK in process: it cost about 0.45 s of every cold start and ends support on 2027-02-25
(docs/evaluation.md, "Cold start and tracing").
"""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

from anomaly_guardian import wiring
from anomaly_guardian.detection.batch import handle_kinesis_event

logger = Logger()
metrics = Metrics()
# Poison-only batches still return their item failures instead of raising (they are in the DLQ already).
processor = BatchProcessor(event_type=EventType.KinesisDataStreams, raise_on_entire_batch_failure=False)
detector = wiring.detector(logger)  # validates DetectorSettings at cold start


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: object) -> dict:
    return handle_kinesis_event(event, context, detector, processor, metrics)
