"""Rules: POST/GET /rules, GET/PUT/DELETE /rules/{ruleId}. Bodies validated by detection.rules.RuleSpec
(metric names the engine knows, operators, action types), so what the API accepts the detector can run."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel

from anomaly_guardian.adapters.config_repo import ConfigNotFound
from anomaly_guardian.api.deps import audit, services, tenant_of
from anomaly_guardian.api.errors import ApiError, not_found
from anomaly_guardian.detection.rules import Rule, RuleSpec

router = Router()
MAX_RULES_PER_TENANT = 100  # bounds per-event evaluation cost in the detector
RuleId = Annotated[str, Path(pattern=r"^[0-9A-HJKMNP-TV-Z]{26}$", description="ULID of the rule")]


class RuleList(BaseModel):
    rules: list[Rule]


def _tenant() -> str:
    return tenant_of(router.current_event.raw_event)


@router.post("/rules", status_code=201, summary="Create a rule", tags=["rules"])
def create_rule(body: RuleSpec) -> Rule:
    tenant = _tenant()
    repo = services().config
    if len(repo.list_rules(tenant)) >= MAX_RULES_PER_TENANT:
        raise ApiError(HTTPStatus.CONFLICT, "LIMIT_EXCEEDED", f"At most {MAX_RULES_PER_TENANT} rules per tenant")
    rule = repo.create_rule(tenant, body)
    audit(router.current_event.raw_event, tenant, "rule.create", rule.ruleId, version=rule.version)
    return rule


@router.get("/rules", summary="List rules", tags=["rules"])
def list_rules(
    includeDeleted: Annotated[bool, Query(description="also list soft-deleted rules")] = False,
) -> RuleList:
    return RuleList(rules=services().config.list_rules(_tenant(), include_deleted=includeDeleted))


@router.get("/rules/<ruleId>", summary="Get a rule", tags=["rules"])
def get_rule(ruleId: RuleId) -> Rule:
    try:
        return services().config.get_rule(_tenant(), ruleId)
    except ConfigNotFound:
        raise not_found("Rule", ruleId) from None


@router.put("/rules/<ruleId>", summary="Replace a rule", tags=["rules"])
def put_rule(ruleId: RuleId, body: RuleSpec) -> Rule:
    tenant = _tenant()
    try:
        rule = services().config.replace_rule(tenant, ruleId, body)
    except ConfigNotFound:
        raise not_found("Rule", ruleId) from None
    audit(router.current_event.raw_event, tenant, "rule.update", ruleId, version=rule.version)
    return rule


@router.delete("/rules/<ruleId>", status_code=204, summary="Delete a rule (soft)", tags=["rules"])
def delete_rule(ruleId: RuleId) -> Response[None]:
    tenant = _tenant()
    try:
        services().config.delete_rule(tenant, ruleId)
    except ConfigNotFound:
        raise not_found("Rule", ruleId) from None
    audit(router.current_event.raw_event, tenant, "rule.delete", ruleId)
    return Response(status_code=204)
