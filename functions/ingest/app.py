"""POST /events: validate, authorise, block-list check, write to Kinesis (logic in anomaly_guardian.ingest).

Tracing is Lambda's active tracing, without the X-Ray SDK in process (see functions/detector/app.py).
"""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit

from anomaly_guardian import wiring
from anomaly_guardian.ingest.service import request_from_apigw
from anomaly_guardian.settings import IngestSettings

logger = Logger()
metrics = Metrics()
app = APIGatewayRestResolver(enable_validation=True)
settings = IngestSettings.from_env()  # cold start: a bad variable fails here, named
service = wiring.ingest_service(settings)
IAM_TENANTS = settings.iam_tenant_map


@app.post("/events")
def post_events():  # returns Response (annotation omitted: the validating resolver would model it)
    result = service.handle(request_from_apigw(app.current_event.raw_event, IAM_TENANTS))
    if result.accepted:
        metrics.add_metric(name="EventsAccepted", unit=MetricUnit.Count, value=result.accepted)
    if result.duplicates:
        metrics.add_metric(name="DuplicateEventIds", unit=MetricUnit.Count, value=result.duplicates)
        logger.info("eventIds reused with a different payload", extra={"duplicates": result.duplicates})
    if result.rejected_code:
        metrics.add_metric(name="RequestsRejected", unit=MetricUnit.Count, value=1)
        logger.info("request rejected", extra={"status": result.status, "code": result.rejected_code})
    return Response(
        status_code=result.status, content_type="application/json", body=result.body, headers=result.headers
    )


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return app.resolve(event, context)
