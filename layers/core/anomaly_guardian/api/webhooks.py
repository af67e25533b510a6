"""Webhooks: POST/GET /webhooks, DELETE /webhooks/{webhookId}.

The URL must be a public HTTPS endpoint (url_guard, checked again after DNS resolution). The signing
secret is encrypted (KMS, bound to the tenant) before it is stored and is never returned: responses
carry `secretSet` and the last 4 characters as `secretHint`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from anomaly_guardian.adapters.config_repo import ConfigNotFound
from anomaly_guardian.api.deps import ServicesDep, TenantDep, record_audit, require
from anomaly_guardian.api.errors import ApiError, not_found
from anomaly_guardian.api.url_guard import UnsafeUrl, check_webhook_url
from anomaly_guardian.ids import new_ulid
from anomaly_guardian.models.anomaly import Severity

router = Router()
MAX_WEBHOOKS_PER_TENANT = 20
WebhookId = Annotated[str, Path(pattern=r"^[0-9A-HJKMNP-TV-Z]{26}$", description="ULID of the webhook")]


class WebhookEvent(StrEnum):
    ANOMALY_DETECTED = "anomaly.detected"
    ANOMALY_RESOLVED = "anomaly.resolved"
    INCIDENT_OPENED = "incident.opened"
    INCIDENT_RESOLVED = "incident.resolved"


class RetryPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    maxRetries: int = Field(default=3, ge=0, le=10)
    backoffMultiplier: float = Field(default=2.0, ge=1, le=10, allow_inf_nan=False)


class WebhookSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    events: list[WebhookEvent] = Field(min_length=1, max_length=4)
    severityFilter: list[Severity] | None = Field(default=None, max_length=4, description="only these severities")
    secret: Annotated[str, StringConstraints(min_length=16, max_length=256)] = Field(
        description="HMAC-SHA256 signing secret; stored encrypted, never returned"
    )
    retryPolicy: RetryPolicy = Field(default_factory=RetryPolicy)
    description: Annotated[str, StringConstraints(max_length=500)] | None = None


class Webhook(BaseModel):
    webhookId: str
    url: str
    events: list[str]
    severityFilter: list[str] | None = None
    retryPolicy: RetryPolicy
    description: str | None = None
    enabled: bool = True
    secretSet: bool
    secretHint: str | None = None
    createdAt: str


class WebhookList(BaseModel):
    webhooks: list[Webhook]


def public_view(stored: dict[str, Any]) -> Webhook:
    fields = {k: v for k, v in stored.items() if k in Webhook.model_fields}
    return Webhook(**fields, secretSet=bool(stored.get("secretCiphertext")))


@router.post("/webhooks", status_code=201, summary="Register a webhook", tags=["webhooks"])
def create_webhook(body: WebhookSpec, tenant: TenantDep, svc: ServicesDep) -> Webhook:
    try:
        url = check_webhook_url(body.url, svc.resolve, allow_loopback=svc.allow_webhook_loopback)
    except UnsafeUrl as exc:
        raise ApiError(HTTPStatus.BAD_REQUEST, "INVALID_PAYLOAD", f"Invalid field url: {exc}") from None
    if len(svc.config.list_webhooks(tenant)) >= MAX_WEBHOOKS_PER_TENANT:
        raise ApiError(HTTPStatus.CONFLICT, "LIMIT_EXCEEDED", f"At most {MAX_WEBHOOKS_PER_TENANT} webhooks per tenant")
    record = {
        "webhookId": new_ulid(),
        "url": url,
        "events": [e.value for e in body.events],
        "severityFilter": [s.value for s in body.severityFilter] if body.severityFilter else None,
        "retryPolicy": body.retryPolicy.model_dump(),
        "description": body.description,
        "enabled": True,
        "secretCiphertext": require(svc.secrets, "The secret box", "SECRETS_KMS_KEY_ID").encrypt(tenant, body.secret),
        "secretHint": "..." + body.secret[-4:],
        "createdAt": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    view = public_view(svc.config.create_webhook(tenant, record))
    record_audit(svc, router.current_event.raw_event, tenant, "webhook.create", view.webhookId, url=view.url)
    return view


@router.get("/webhooks", summary="List webhooks", tags=["webhooks"])
def list_webhooks(tenant: TenantDep, svc: ServicesDep) -> WebhookList:
    return WebhookList(webhooks=[public_view(w) for w in svc.config.list_webhooks(tenant)])


@router.delete("/webhooks/<webhookId>", status_code=204, summary="Delete a webhook", tags=["webhooks"])
def delete_webhook(webhookId: WebhookId, tenant: TenantDep, svc: ServicesDep) -> Response[None]:
    try:
        svc.config.delete_webhook(tenant, webhookId)
    except ConfigNotFound:
        raise not_found("Webhook", webhookId) from None
    record_audit(svc, router.current_event.raw_event, tenant, "webhook.delete", webhookId)
    return Response(status_code=204)
