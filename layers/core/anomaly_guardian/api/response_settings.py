"""GET /settings/response and PATCH /settings/response: the caller tenant's response safety switches.

PATCH changes only the fields it names (kill switch, dry-run, dry-run actions, per-hour caps) and keeps
every other field of the tenant's SETTINGS item. Both return the effective settings, defaults included,
so an operator sees exactly what the rails will apply (and whether RESPONSE_DRY_RUN overrides it).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel, ConfigDict, Field

from anomaly_guardian.api.deps import ServicesDep, TenantDep, record_audit
from anomaly_guardian.response.safety import ResponseSettings

router = Router()
logger = Logger(child=True)
ActionName = Literal["rate_limit", "hold_transaction", "step_up_auth", "enhanced_monitoring", "scale", "notify"]
Cap = Annotated[int, Field(ge=0, le=100_000)]


class ResponseSettingsPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    killSwitch: bool | None = Field(default=None, description="true: no action of this tenant runs")
    dryRun: bool | None = Field(default=None, description="true: actions only record what they would do")
    dryRunActions: list[ActionName] | None = Field(default=None, description="actions kept in dry-run")
    actionCaps: dict[ActionName, Cap] | None = Field(default=None, description="per-hour caps by action")


class EffectiveSettings(BaseModel):
    killSwitch: bool
    dryRun: bool
    dryRunActions: list[str]
    actionCaps: dict[str, int]
    globalDryRun: bool = Field(description="RESPONSE_DRY_RUN is set on the functions: every tenant is in dry-run")


def _effective(item: dict[str, Any], global_dry_run: bool) -> EffectiveSettings:
    s = ResponseSettings.from_item(item, forced_dry_run=global_dry_run)
    return EffectiveSettings(
        killSwitch=s.kill_switch,
        dryRun=s.dry_run,
        dryRunActions=list(s.dry_run_actions),
        actionCaps=dict(s.caps),
        globalDryRun=global_dry_run,
    )


@router.get("/settings/response", summary="Response safety switches in force", tags=["settings"])
def get_response_settings(tenant: TenantDep, svc: ServicesDep) -> EffectiveSettings:
    return _effective(svc.config.get_settings(tenant), svc.global_dry_run)


@router.patch("/settings/response", summary="Change response safety switches", tags=["settings"])
def patch_response_settings(body: ResponseSettingsPatch, tenant: TenantDep, svc: ServicesDep) -> EffectiveSettings:
    raw = router.current_event.raw_event
    changes = body.model_dump(exclude_none=True)
    config = svc.config
    current = config.get_settings(tenant)
    if "actionCaps" in changes:
        changes["actionCaps"] = dict(current.get("actionCaps") or {}) | changes["actionCaps"]
    updated = config.put_settings(tenant, current | changes)
    record_audit(svc, raw, tenant, "settings.response", "SETTINGS", changes=changes)
    logger.info("response settings changed", tenant_id=tenant, fields=sorted(changes))
    return _effective(updated, svc.global_dry_run)
