"""EventBridge ("SageMaker Model Package State Change", Approved, the project's package group) ->
copy the approved package's exported model to MODEL_BUCKET/MODEL_KEY, keeping the previous one for
rollback (logic: anomaly_guardian.ml.lifecycle)."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from anomaly_guardian import wiring
from anomaly_guardian.ml.lifecycle import handle_state_change

logger = Logger()
metrics = Metrics()
promoter = wiring.model_promoter()

OUTCOME_METRIC = {"promoted": "ModelPromoted", "refused": "ModelPromotionRefused", "unchanged": "ModelUnchanged"}


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    result = handle_state_change(event, promoter)
    if result["status"] in OUTCOME_METRIC:
        metrics.add_metric(name=OUTCOME_METRIC[result["status"]], unit=MetricUnit.Count, value=1)
    log = logger.error if result["status"] == "refused" else logger.info
    log("model promotion", extra={"promotion": result})
    return result
