"""Rules: POST/GET /rules, GET/PUT/DELETE /rules/{ruleId}, GET /rules/{ruleId}/history.

Two kinds share the routes. Tenant rules (ULID ids) are validated by detection.rules.RuleSpec (metric
names the engine knows, operators, action types), so what the API accepts the detector can run. The
built-in detectors appear as rules with well-known ids (`velocity-check`, ... see detection.builtin):
`PUT` with the body as `GET` returned it and `conditions.threshold` and/or `enabled` changed stores the
tenant's setting; they cannot be deleted. A `PUT` carrying `version` must carry the stored one (409
otherwise), for both kinds; every change is audited (who, old -> new) and versioned.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from anomaly_guardian.adapters.config_repo import ConfigNotFound, VersionConflict
from anomaly_guardian.api.deps import ServicesDep, TenantDep, actor_of, record_audit
from anomaly_guardian.api.errors import ApiError, describe_validation_errors, not_found
from anomaly_guardian.detection.builtin import BUILTIN_IDS, BuiltinRule, InvalidSetting, parse_update, render
from anomaly_guardian.detection.rules import Rule, RuleSpec

router = Router()
MAX_RULES_PER_TENANT = 100  # bounds per-event evaluation cost in the detector
_BUILTIN_PATTERN = "|".join(BUILTIN_IDS)
RuleId = Annotated[
    str,
    Path(
        pattern=rf"^([0-9A-HJKMNP-TV-Z]{{26}}|{_BUILTIN_PATTERN})$",
        description="ULID of a tenant rule, or the id of a built-in detector (" + ", ".join(BUILTIN_IDS) + ")",
    ),
]
# Fields GET returns that a PUT may send back unchanged (they are not settings).
_READ_BACK = {"ruleId", "version", "createdAt", "updatedAt", "updatedBy", "builtIn", "defaultThreshold"}


class RuleList(BaseModel):
    rules: list[BuiltinRule | Rule]


class RuleUpdate(BaseModel):
    """The body of PUT /rules/{ruleId}: the rule as GET returned it, with the changes applied.

    Tenant rules: the RuleSpec fields (ruleName, ruleType, conditions, actions, enabled, severity,
    description). Built-in rules: only `conditions.threshold` and `enabled` may differ from GET.
    `version`, when sent, must be the stored version (409 VERSION_CONFLICT otherwise)."""

    model_config = ConfigDict(extra="allow")

    ruleName: str | None = None
    ruleType: str | None = None
    conditions: dict[str, Any] | None = None
    actions: list[dict[str, Any]] | None = None
    enabled: bool | None = None
    version: int | None = Field(default=None, ge=1, description="the version you read (optimistic concurrency)")


class RuleChange(BaseModel):
    version: int
    at: str
    by: str
    old: dict[str, Any]
    new: dict[str, Any]


class RuleHistory(BaseModel):
    ruleId: str
    changes: list[RuleChange]


def _builtin(svc: Any, tenant: str, rule_id: str) -> BuiltinRule:
    return render(rule_id, svc.config.builtin_overrides(tenant).get(rule_id))


def _conflict(rule_id: str, sent: int | None, current: int) -> ApiError:
    return ApiError(
        HTTPStatus.CONFLICT,
        "VERSION_CONFLICT",
        f"Rule {rule_id} is at version {current}, not {sent}: it changed since you read it; GET it and apply"
        " your change again",
    )


@router.post("/rules", status_code=201, summary="Create a rule", tags=["rules"])
def create_rule(body: RuleSpec, tenant: TenantDep, svc: ServicesDep) -> Rule:
    repo = svc.config
    if len(repo.list_rules(tenant)) >= MAX_RULES_PER_TENANT:
        raise ApiError(HTTPStatus.CONFLICT, "LIMIT_EXCEEDED", f"At most {MAX_RULES_PER_TENANT} rules per tenant")
    rule = repo.create_rule(tenant, body)
    record_audit(svc, router.current_event.raw_event, tenant, "rule.create", rule.ruleId, version=rule.version)
    return rule


@router.get("/rules", summary="List rules (the built-in detectors first, then the tenant's rules)", tags=["rules"])
def list_rules(
    includeDeleted: Annotated[bool, Query(description="also list soft-deleted rules")] = False,
    builtIn: Annotated[bool | None, Query(description="true: built-ins only; false: tenant rules only")] = None,
    *,
    tenant: TenantDep,
    svc: ServicesDep,
) -> RuleList:
    repo = svc.config
    rules: list[BuiltinRule | Rule] = []
    if builtIn is not False:
        overrides = repo.builtin_overrides(tenant)
        rules.extend(render(rid, overrides.get(rid)) for rid in BUILTIN_IDS)
    if builtIn is not True:
        rules.extend(repo.list_rules(tenant, include_deleted=includeDeleted))
    return RuleList(rules=rules)


@router.get("/rules/<ruleId>", summary="Get a rule", tags=["rules"])
def get_rule(ruleId: RuleId, tenant: TenantDep, svc: ServicesDep) -> BuiltinRule | Rule:
    if ruleId in BUILTIN_IDS:
        return _builtin(svc, tenant, ruleId)
    try:
        return svc.config.get_rule(tenant, ruleId)
    except ConfigNotFound:
        raise not_found("Rule", ruleId) from None


@router.get("/rules/<ruleId>/history", summary="Changes of a built-in rule's setting", tags=["rules"])
def rule_history(ruleId: RuleId, tenant: TenantDep, svc: ServicesDep) -> RuleHistory:
    if ruleId not in BUILTIN_IDS:
        try:  # a tenant rule has no setting history (its changes are in the audit trail): empty, not 404
            svc.config.get_rule(tenant, ruleId)
        except ConfigNotFound:
            raise not_found("Rule", ruleId) from None
        return RuleHistory(ruleId=ruleId, changes=[])
    changes = svc.config.builtin_history(tenant, ruleId)
    return RuleHistory(ruleId=ruleId, changes=[RuleChange.model_validate(c) for c in changes])


@router.put("/rules/<ruleId>", summary="Replace a rule, or change a built-in rule's threshold/enabled", tags=["rules"])
def put_rule(ruleId: RuleId, body: RuleUpdate, tenant: TenantDep, svc: ServicesDep) -> BuiltinRule | Rule:
    sent = body.model_dump(exclude_unset=True)
    if sent.get("ruleId", ruleId) != ruleId:
        raise ApiError(HTTPStatus.BAD_REQUEST, "INVALID_PAYLOAD", f"ruleId in the body is not {ruleId}")
    if ruleId in BUILTIN_IDS:
        return _put_builtin(svc, tenant, ruleId, sent)
    spec_fields = {k: v for k, v in sent.items() if k not in _READ_BACK}
    try:
        spec = RuleSpec.model_validate(spec_fields)
    except ValidationError as exc:
        errors = [dict(e) | {"loc": ("body", *e["loc"])} for e in exc.errors()]
        code, message = describe_validation_errors(errors)
        raise ApiError(HTTPStatus.BAD_REQUEST, code, message) from None
    try:
        before = svc.config.get_rule(tenant, ruleId).model_dump(mode="json")
        rule = svc.config.replace_rule_checked(tenant, ruleId, spec, body.version)
    except ConfigNotFound:
        raise not_found("Rule", ruleId) from None
    except VersionConflict as exc:
        raise _conflict(ruleId, body.version, exc.current) from None
    after = rule.model_dump(mode="json")
    changed = sorted(k for k in spec.model_fields_set | set(RuleSpec.model_fields) if before.get(k) != after.get(k))
    record_audit(
        svc,
        router.current_event.raw_event,
        tenant,
        "rule.update",
        ruleId,
        version=rule.version,
        old={k: before.get(k) for k in changed},
        new={k: after.get(k) for k in changed},
    )
    return rule


def _put_builtin(svc: Any, tenant: str, rule_id: str, sent: dict[str, Any]) -> BuiltinRule:
    unknown = sorted(set(sent) - set(BuiltinRule.model_fields))
    if unknown:
        raise ApiError(
            HTTPStatus.BAD_REQUEST, "INVALID_PAYLOAD", f"Unknown field: {unknown[0]} (not a setting of {rule_id})"
        )
    current = _builtin(svc, tenant, rule_id)
    if sent.get("version") is not None and sent["version"] != current.version:
        raise _conflict(rule_id, sent["version"], current.version)
    try:
        threshold, enabled = parse_update(rule_id, sent, current)
    except InvalidSetting as exc:
        raise ApiError(HTTPStatus.BAD_REQUEST, "INVALID_PAYLOAD", exc.message) from None
    old = {"threshold": current.conditions.threshold, "enabled": current.enabled}
    new = {"threshold": threshold, "enabled": enabled}
    if new == old:
        return current  # nothing changes: no new version, nothing to audit
    raw = router.current_event.raw_event
    try:
        stored = svc.config.put_builtin(
            tenant,
            rule_id,
            threshold=threshold,
            enabled=enabled,
            expected_version=current.version,
            actor=actor_of(raw),
            old=old,
        )
    except VersionConflict as exc:
        raise _conflict(rule_id, current.version, exc.current) from None
    record_audit(svc, raw, tenant, "rule.builtin.update", rule_id, version=stored.version, old=old, new=new)
    return render(rule_id, stored)


@router.delete("/rules/<ruleId>", status_code=204, summary="Delete a rule (soft)", tags=["rules"])
def delete_rule(ruleId: RuleId, tenant: TenantDep, svc: ServicesDep) -> Response[None]:
    if ruleId in BUILTIN_IDS:
        raise ApiError(
            HTTPStatus.BAD_REQUEST,
            "BUILTIN_RULE",
            f"{ruleId} is a built-in detector and cannot be deleted; turn it off with PUT /rules/{ruleId}"
            ' and "enabled": false',
        )
    try:
        svc.config.delete_rule(tenant, ruleId)
    except ConfigNotFound:
        raise not_found("Rule", ruleId) from None
    record_audit(svc, router.current_event.raw_event, tenant, "rule.delete", ruleId)
    return Response(status_code=204)
