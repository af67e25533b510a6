"""The built-in detectors as tenant rules: well-known ids, one tunable threshold each, on/off.

`GET /rules` lists them beside the tenant's own rules; `PUT /rules/{id}` with the body as GET returned
it (only `conditions.threshold` and/or `enabled` changed) stores the tenant's setting. A setting is a
small override (`Override`: threshold, enabled, version); `effective_config(overrides)` applies a
tenant's overrides to the `DetectionConfig` defaults, which is what the detector judges that tenant
with. Pure: storage is `adapters.config_repo`, caching `TenantConfigProvider` there.

| id | config | threshold | default |
|---|---|---|---|
| velocity-check | velocity.max_events_per_user, _per_ip | events of a user or IP in `timeWindow` | 100/300s |
| value-check | value.absolute_limit | one transaction's amount | 5000 |
| geolocation-check | geolocation.max_speed_kmh | implied travel speed, km/h | 900 |
| behavioral-check | behavioral.score_threshold | combined behaviour score (0..1] | 0.6 |
| system-check | system.sigma | robust deviations of run_length points in a row | 3 |
| usage-check | usage.z_threshold | Poisson-style z of calls per API and entity per bucket | 6 |
| cost-check | cost.min_total_impact_usd | estimated total impact in USD | 100 |
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from anomaly_guardian.config import DetectionConfig


@dataclass(frozen=True, slots=True)
class BuiltinSpec:
    rule_id: str
    section: str  # DetectionConfig attribute; also the detector's name and the anomalyType
    fields: tuple[str, ...]  # the section fields the threshold sets
    name: str
    rule_type: str
    metric: str
    operator: str
    minimum: float  # inclusive unless `exclusive_minimum`
    maximum: float
    integer: bool
    description: str
    exclusive_minimum: bool = False
    window_field: str | None = None  # the section field shown as conditions.timeWindow (read-only)


BUILTINS: dict[str, BuiltinSpec] = {
    s.rule_id: s
    for s in (
        BuiltinSpec(
            "velocity-check",
            "velocity",
            ("max_events_per_user", "max_events_per_ip"),
            "Velocity: events per user or IP",
            "velocity",
            "eventsPerUser",
            ">",
            1,
            1_000_000,
            True,
            "More than `threshold` events from one user (or from one IP address) within `timeWindow` seconds.",
            window_field="window_seconds",
        ),
        BuiltinSpec(
            "value-check",
            "value",
            ("absolute_limit",),
            "Value: transaction amount limit",
            "value",
            "transactionAmount",
            ">",
            0,
            1e12,
            False,
            "A transaction above `threshold` is always anomalous (CRITICAL); below it the per-user statistical"
            " profile still applies.",
            exclusive_minimum=True,
        ),
        BuiltinSpec(
            "geolocation-check",
            "geolocation",
            ("max_speed_kmh",),
            "Geolocation: impossible travel",
            "threshold",
            "travelSpeedKmh",
            ">",
            1,
            100_000,
            False,
            "Two events of one user whose locations imply a travel speed above `threshold` km/h.",
        ),
        BuiltinSpec(
            "behavioral-check",
            "behavioral",
            ("score_threshold",),
            "Behavioral: session and device signals",
            "behavioral",
            "behavioralScore",
            ">=",
            0,
            1,
            False,
            "Session timing regularity, page diversity, new device or user agent and automation signatures"
            " combined into a score; at or above `threshold` (0..1] it is an anomaly.",
            exclusive_minimum=True,
        ),
        BuiltinSpec(
            "system-check",
            "system",
            ("sigma",),
            "System: service metric deviation",
            "system",
            "metricDeviationSigma",
            ">",
            0.5,
            50,
            False,
            "A service metric `run_length` points in a row beyond `threshold` robust standard deviations of its"
            " level (single spikes, CUSUM and the erratic rule keep their own limits).",
        ),
        BuiltinSpec(
            "usage-check",
            "usage",
            ("z_threshold",),
            "Usage: CloudTrail calls per API and entity",
            "threshold",
            "usageZScore",
            ">",
            0.5,
            1000,
            False,
            "Calls per API and entity in one bucket more than `threshold` Poisson-style deviations above the"
            " hour-of-day baseline (and at least 3x it).",
            window_field="bucket_seconds",
        ),
        BuiltinSpec(
            "cost-check",
            "cost",
            ("min_total_impact_usd",),
            "Cost: estimated total impact",
            "threshold",
            "totalImpactUsd",
            ">",
            0,
            1e12,
            False,
            "A cost anomaly whose estimated total impact exceeds `threshold` US dollars.",
            exclusive_minimum=True,
        ),
    )
}
BUILTIN_IDS = tuple(BUILTINS)


class InvalidSetting(ValueError):
    """A built-in rule setting the detectors cannot run with; `field` and the message name the problem."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class Override(BaseModel):
    """A tenant's stored setting of one built-in rule (absent: the defaults, version 1)."""

    model_config = ConfigDict(extra="ignore")

    threshold: float | None = None
    enabled: bool = True
    version: int = 1
    updatedAt: str | None = None
    updatedBy: str | None = None
    # Alert budget (PUT /detectors/{id}/budget): at most `alertBudget` MEDIUM+ alerts per 10k events, met
    # by findings scoring at least `scoreFloor` (calibrated on the stored scores of the last day).
    alertBudget: float | None = None
    scoreFloor: float | None = None


def validate_threshold(rule_id: str, value: Any) -> float | int:
    """The threshold as the detector will use it, or InvalidSetting naming what is wrong."""
    spec = BUILTINS[rule_id]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidSetting("conditions.threshold", f"conditions.threshold of {rule_id} must be a finite number")
    low_ok = value > spec.minimum if spec.exclusive_minimum else value >= spec.minimum
    if not low_ok or value > spec.maximum:
        low = f"above {spec.minimum:g}" if spec.exclusive_minimum else f"at least {spec.minimum:g}"
        raise InvalidSetting(
            "conditions.threshold",
            f"conditions.threshold of {rule_id} must be {low} and at most {spec.maximum:g} (got {value:g})",
        )
    if spec.integer:
        if value != int(value):
            raise InvalidSetting(
                "conditions.threshold", f"conditions.threshold of {rule_id} must be a whole number (got {value:g})"
            )
        return int(value)
    return float(value)


def default_threshold(rule_id: str, base: DetectionConfig | None = None) -> float | int:
    spec = BUILTINS[rule_id]
    return getattr(getattr(base or DetectionConfig(), spec.section), spec.fields[0])


def effective_config(overrides: Mapping[str, Override], base: DetectionConfig | None = None) -> DetectionConfig:
    """`base` (default: the defaults) with a tenant's built-in rule overrides applied. Overrides that no
    longer validate (a stored value outside today's bounds) are ignored rather than breaking detection."""
    base = base or DetectionConfig()
    update: dict[str, Any] = {}
    for rule_id, override in overrides.items():
        spec = BUILTINS.get(rule_id)
        if spec is None:
            continue
        changes: dict[str, Any] = {}
        if not override.enabled:
            changes["enabled"] = False
        if override.threshold is not None:
            try:
                value = validate_threshold(rule_id, override.threshold)
            except InvalidSetting:
                value = None
            if value is not None:
                changes.update(dict.fromkeys(spec.fields, value))
        if changes:
            update[spec.section] = getattr(base, spec.section).model_copy(update=changes)
        if override.scoreFloor is not None and 0 <= override.scoreFloor <= 1:
            floors = update.setdefault("score_floors", dict(base.score_floors))
            floors[spec.section] = float(override.scoreFloor)
        if override.alertBudget is not None and override.alertBudget >= 0:
            budgets = update.setdefault("alert_budgets", dict(base.alert_budgets))
            budgets[spec.section] = float(override.alertBudget)
    return base.model_copy(update=update) if update else base


def detector_rule(detector: str) -> str | None:
    """The built-in rule id whose item holds this detector's settings (the detector names are the sections)."""
    return next((s.rule_id for s in BUILTINS.values() if s.section == detector), None)


def disabled_sections(config: DetectionConfig) -> frozenset[str]:
    """Names of the built-in detectors switched off in `config` (the detector names are the sections)."""
    return frozenset(s.section for s in BUILTINS.values() if not getattr(config, s.section).enabled)


class BuiltinConditions(BaseModel):
    metric: str
    operator: str
    threshold: float
    timeWindow: int | None = None


class BuiltinAction(BaseModel):
    type: str
    parameters: dict[str, Any] = Field(default_factory=dict)


class BuiltinRule(BaseModel):
    """A built-in detector as `GET /rules` shows it."""

    ruleId: str
    ruleName: str
    ruleType: str
    conditions: BuiltinConditions
    actions: list[BuiltinAction]
    enabled: bool
    builtIn: bool = True
    version: int
    defaultThreshold: float
    description: str
    updatedAt: str | None = None
    updatedBy: str | None = None


def _actions(section: str) -> list[BuiltinAction]:
    from anomaly_guardian.response.planning import DEFAULT_ACTIONS, DEFAULT_PARAMETERS

    kinds = [*DEFAULT_ACTIONS.get(section, ()), "notify"]
    return [BuiltinAction(type=k, parameters=dict(DEFAULT_PARAMETERS[k])) for k in dict.fromkeys(kinds)]


def render(rule_id: str, override: Override | None, base: DetectionConfig | None = None) -> BuiltinRule:
    """The rule body for one tenant: its effective threshold and switch, version and last change."""
    spec = BUILTINS[rule_id]
    base = base or DetectionConfig()
    override = override or Override()
    section = getattr(effective_config({rule_id: override}, base), spec.section)
    return BuiltinRule(
        ruleId=rule_id,
        ruleName=spec.name,
        ruleType=spec.rule_type,
        conditions=BuiltinConditions(
            metric=spec.metric,
            operator=spec.operator,
            threshold=getattr(section, spec.fields[0]),
            timeWindow=getattr(section, spec.window_field) if spec.window_field else None,
        ),
        actions=_actions(spec.section),
        enabled=section.enabled,
        version=override.version,
        defaultThreshold=default_threshold(rule_id, base),
        description=spec.description,
        updatedAt=override.updatedAt,
        updatedBy=override.updatedBy,
    )


READ_ONLY = ("ruleName", "ruleType", "actions", "conditions.metric", "conditions.operator", "conditions.timeWindow")


def parse_update(rule_id: str, body: Mapping[str, Any], current: BuiltinRule) -> tuple[float | int, bool]:
    """A PUT body -> (threshold, enabled). Only `conditions.threshold` and `enabled` may differ from
    the rule as GET returns it; fields left out keep their value. InvalidSetting names any other change."""
    conditions = body.get("conditions")
    if conditions is not None and not isinstance(conditions, Mapping):
        raise InvalidSetting("conditions", "conditions must be an object")
    conditions = conditions or {}
    now = current.model_dump(mode="json")
    for name in READ_ONLY:
        head, _, tail = name.partition(".")
        given = conditions.get(tail, now["conditions"][tail]) if tail else body.get(head, now[head])
        expected = now["conditions"][tail] if tail else now[head]
        if given != expected and not (_numbers(given, expected) and float(given) == float(expected)):
            raise InvalidSetting(
                name, f"{name} of the built-in rule {rule_id} cannot be changed (only conditions.threshold and enabled)"
            )
    unknown = sorted(set(conditions) - {"metric", "operator", "threshold", "timeWindow", "eventType"})
    if unknown or conditions.get("eventType") is not None:
        field = f"conditions.{unknown[0] if unknown else 'eventType'}"
        raise InvalidSetting(field, f"{field} is not a setting of the built-in rule {rule_id}")
    threshold = validate_threshold(rule_id, conditions.get("threshold", current.conditions.threshold))
    enabled = body.get("enabled", current.enabled)
    if not isinstance(enabled, bool):
        raise InvalidSetting("enabled", "enabled must be true or false")
    return threshold, enabled


def _numbers(*values: Any) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


__all__ = [
    "BUILTINS",
    "BUILTIN_IDS",
    "BuiltinRule",
    "InvalidSetting",
    "Override",
    "default_threshold",
    "detector_rule",
    "disabled_sections",
    "effective_config",
    "parse_update",
    "render",
    "validate_threshold",
]
