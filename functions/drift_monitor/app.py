"""EventBridge -> drift monitor: PSI of live features vs the model's training reference (EMF metrics),
weekly / drift / feedback-triggered retraining (logic: anomaly_guardian.ml.drift).

Environment: MODEL_BUCKET, MODEL_KEY (the served model), FEATURE_SAMPLE_BUCKET, TRAINING_DATA_URI,
TRAINING_TENANTS, RETRAIN_PIPELINE_NAME, MODEL_PACKAGE_GROUP, PSI_THRESHOLD, MIN_SAMPLE_ROWS,
DRIFT_WINDOW_HOURS, RETRAIN_ON_DRIFT, ANOMALIES_TABLE.
"""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from anomaly_guardian import wiring

logger = Logger()
metrics = Metrics()
monitor = wiring.drift_monitor()  # validates DriftMonitorSettings at cold start


def emit(name: str, value: float, dimensions: dict | None) -> None:
    if dimensions:  # per-feature series: one EMF document each, so dimensions do not leak across metrics
        with single_metric(
            name=name,
            unit=MetricUnit.NoUnit,
            value=value,
            namespace=metrics.namespace,
            default_dimensions=metrics.default_dimensions,
        ) as m:
            for key, val in dimensions.items():
                m.add_dimension(name=key, value=val)
    else:
        metrics.add_metric(
            name=name, unit=MetricUnit.Count if name != "MaxFeaturePSI" else MetricUnit.NoUnit, value=value
        )


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return monitor.handle(event, emit)
