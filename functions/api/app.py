"""The REST API Lambda: anomalies, rules, webhooks, feedback, subjects (routers in anomaly_guardian.api)."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths

from anomaly_guardian import wiring
from anomaly_guardian.api import deps
from anomaly_guardian.api.app import create_app
from anomaly_guardian.settings import ApiSettings

logger = Logger()
metrics = Metrics(namespace="AnomalyGuardian")
settings = ApiSettings.from_env()  # cold start: a bad variable fails here, named
deps.configure(wiring.api_services)  # built on the first request that needs them (same environment)
app = create_app(cors_origin=settings.console_origin)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return app.resolve(event, context)
