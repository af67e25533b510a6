"""API Gateway Lambda authorizer: verifies the bearer JWT and returns a policy scoped to this API."""

import functools
import time

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from anomaly_guardian.auth.authorizer import Unauthorized, authorize
from anomaly_guardian.auth.keys import SigningKeyUnavailable, load_signing_key
from anomaly_guardian.auth.tokens import TokenSettings

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="AnomalyGuardian")


def _settings() -> TokenSettings:
    return _settings_for_period(int(time.time() // 300))


@functools.lru_cache(maxsize=1)
def _settings_for_period(_period: int) -> TokenSettings:
    """Rebuilt every 5 minutes (key rotation), so a JWKS client keeps its key cache between calls."""
    try:
        key = load_signing_key()
    except SigningKeyUnavailable as exc:
        logger.error("no token signing key configured", reason=str(exc))
        key = None  # HS256 tokens are then refused (fail closed); RS256 still works if configured
    return TokenSettings.from_env(key)


def decide(event: dict, context: object) -> dict:
    try:
        response = authorize(event, _settings())
    except Unauthorized as exc:
        logger.warning("request denied", reason=exc.reason, method_arn=event.get("methodArn"))
        metrics.add_metric(name="AuthorizerDenied", unit=MetricUnit.Count, value=1)
        raise
    logger.info("request allowed", tenant_id=response["context"]["tenantId"], scopes=response["context"]["scopes"])
    return response


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return decide(event, context)
