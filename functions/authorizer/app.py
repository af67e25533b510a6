"""API Gateway Lambda authorizer: verifies the bearer JWT and returns a policy scoped to this API."""

import functools
import time

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from anomaly_guardian import wiring
from anomaly_guardian.auth.authorizer import Unauthorized, authorize
from anomaly_guardian.auth.tokens import TokenSettings
from anomaly_guardian.settings import AuthorizerSettings

logger = Logger()
metrics = Metrics(namespace="AnomalyGuardian")
AuthorizerSettings.from_env()  # validates the environment at cold start (a bad variable is named here)


def _settings() -> TokenSettings:
    return _settings_for_period(int(time.time() // 300))


@functools.lru_cache(maxsize=1)
def _settings_for_period(_period: int) -> TokenSettings:
    """Rebuilt every 5 minutes (key rotation), so a JWKS client keeps its key cache between calls.
    Without a signing key HS256 tokens are refused (fail closed); RS256 still works if configured."""
    return wiring.token_verifier(
        AuthorizerSettings.from_env(),
        on_missing_key=lambda reason: logger.error("no token signing key configured", reason=reason),
    )


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
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return decide(event, context)
