"""Tenant rules: the contract the API validates and the detector evaluates per event.

A rule says "when <metric> <operator> <threshold> (over <timeWindow>), raise a `rule` anomaly and
request these actions". Instantaneous metrics read the event; windowed metrics (eventsPerUser,
amountPerUser, distinctIpsPerUser) keep a short per-user history in detector state. Rules reach the
detector through a `RuleProvider` (tenant -> rules) injected at construction, so the pipeline stays
pure; `CachedRuleProvider` bounds how stale a rule can be (TTL <= 60 s: a change takes effect
within a minute).
"""

from __future__ import annotations

import operator
import re
import threading
import time
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from anomaly_guardian.config import DetectionConfig
from anomaly_guardian.detection.base import Finding, PreparedEvent
from anomaly_guardian.models.anomaly import AnomalyType, Explanation, Severity
from anomaly_guardian.state.store import StateItem, state_key

STATE_KIND = "rules"
MAX_WINDOW_SECONDS = 24 * 3600
MAX_HISTORY = 2000  # events kept per user for windowed metrics (bounds state size)
MAX_RULE_TTL_SECONDS = 60.0


class Metric(StrEnum):
    """Features the rule engine knows. Windowed ones need `timeWindow`."""

    TRANSACTION_AMOUNT = "transactionAmount"
    REQUESTS_PER_SECOND = "requestsPerSecond"
    SESSION_LENGTH = "sessionLength"
    METRIC_VALUE = "metricValue"
    EVENTS_PER_USER = "eventsPerUser"  # count of the user's events in timeWindow (this one included)
    AMOUNT_PER_USER = "amountPerUser"  # sum of the user's transactionAmount in timeWindow
    DISTINCT_IPS_PER_USER = "distinctIpsPerUser"  # distinct IPs the user came from in timeWindow


WINDOWED = frozenset({Metric.EVENTS_PER_USER, Metric.AMOUNT_PER_USER, Metric.DISTINCT_IPS_PER_USER})
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


class ActionType(StrEnum):
    RATE_LIMIT = "rate_limit"
    HOLD_TRANSACTION = "hold_transaction"
    STEP_UP_AUTH = "step_up_auth"
    ENHANCED_MONITORING = "enhanced_monitoring"
    SCALE = "scale"
    NOTIFY = "notify"
    WEBHOOK = "webhook"


class RuleType(StrEnum):
    THRESHOLD = "threshold"
    VELOCITY = "velocity"
    VALUE = "value"
    BEHAVIORAL = "behavioral"
    SYSTEM = "system"
    CUSTOM = "custom"


RULE_SCORES = {Severity.CRITICAL: 0.95, Severity.HIGH: 0.8, Severity.MEDIUM: 0.6, Severity.LOW: 0.5}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
Name = Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=True)]


def parse_window(value: Any) -> int | None:
    """300, "300", "300s", "5m", "1h" -> seconds (1..86400)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("timeWindow must be seconds or a duration like '5m'")
    if isinstance(value, (int, float)):
        seconds = int(value)
        if seconds != value:
            raise ValueError("timeWindow must be a whole number of seconds")
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ValueError("timeWindow must be seconds or a duration like '5m', '1h'")
        seconds = int(m.group(1)) * _UNITS[m.group(2)]
    if not 1 <= seconds <= MAX_WINDOW_SECONDS:
        raise ValueError(f"timeWindow must be between 1 second and {MAX_WINDOW_SECONDS} seconds (24h)")
    return seconds


class RuleConditions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: Metric
    operator: Literal[">", ">=", "<", "<=", "==", "!="]
    threshold: float = Field(allow_inf_nan=False, ge=-1e15, le=1e15)
    timeWindow: int | None = Field(default=None, description="seconds, or a duration like '5m'; windowed metrics")
    eventType: Name | None = Field(default=None, description="only evaluate events of this type")

    @field_validator("timeWindow", mode="before")
    @classmethod
    def _window(cls, value: Any) -> int | None:
        return parse_window(value)

    @model_validator(mode="after")
    def _window_for_windowed(self) -> RuleConditions:
        if self.metric in WINDOWED and self.timeWindow is None:
            raise ValueError(f"timeWindow is required for metric {self.metric.value}")
        return self


class RuleAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: ActionType
    parameters: dict[str, str | int | float | bool | None] = Field(default_factory=dict, max_length=20)


class RuleSpec(BaseModel):
    """The body of POST/PUT /rules."""

    model_config = ConfigDict(extra="forbid")

    ruleName: Name
    ruleType: RuleType = RuleType.THRESHOLD
    conditions: RuleConditions
    actions: list[RuleAction] = Field(default_factory=list, max_length=10)
    enabled: bool = True
    severity: Severity = Field(default=Severity.HIGH, description="severity of the anomalies the rule raises")
    description: Annotated[str, StringConstraints(max_length=1000)] | None = None


class Rule(RuleSpec):
    """A stored rule as the detector and GET /rules see it."""

    ruleId: str
    createdAt: str
    updatedAt: str
    version: int = 1


RuleProvider = Callable[[str], list[Rule]]


class CachedRuleProvider:
    """Per-tenant cache in front of a loader (DynamoDB Query). Staleness is bounded by `ttl_seconds`."""

    def __init__(self, loader: RuleProvider, ttl_seconds: float = 30.0, clock: Callable[[], float] = time.monotonic):
        if not 0 < ttl_seconds <= MAX_RULE_TTL_SECONDS:
            raise ValueError(f"ttl_seconds must be in (0, {MAX_RULE_TTL_SECONDS}] so rules apply within a minute")
        self._loader = loader
        self._ttl = ttl_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, list[Rule]]] = {}
        self._lock = threading.Lock()

    def __call__(self, tenant: str) -> list[Rule]:
        now = self._clock()
        hit = self._cache.get(tenant)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        rules = [r for r in self._loader(tenant) if r.enabled]
        with self._lock:
            self._cache[tenant] = (now, rules)
        return rules


def no_rules(_tenant: str) -> list[Rule]:
    return []


class RuleDetector:
    """Evaluates every enabled rule of the event's tenant; one `rule` finding per event listing all matches."""

    name = "rules"

    def __init__(self, provider: RuleProvider | None = None):
        self.provider = provider or no_rules

    def _max_window(self, rules: Iterable[Rule]) -> int:
        return max((r.conditions.timeWindow or 0 for r in rules if r.conditions.metric in WINDOWED), default=0)

    def state_keys(self, ev: PreparedEvent) -> Iterable[str]:
        if self._max_window(self.provider(ev.tenant)):
            yield state_key(ev.tenant, STATE_KIND, ev.user)

    def detect(self, ev: PreparedEvent, states: dict[str, StateItem], config: DetectionConfig) -> list[Finding]:
        rules = self.provider(ev.tenant)
        if not rules:
            return []
        window = self._max_window(rules)
        history: list[list[Any]] = []
        item = states.get(state_key(ev.tenant, STATE_KIND, ev.user)) if window else None
        if item is not None:  # None only if the rules changed between load and detect: no history this once
            history = [h for h in item.state.get("h", []) if h[0] > ev.epoch - window]
            history.append([ev.epoch, ev.event.transactionAmount or 0.0, ev.ip])
            item.state["h"] = history[-MAX_HISTORY:]
            item.ttl = int(ev.epoch) + window + 3600
        matched: list[tuple[Rule, float]] = []
        for rule in rules:
            cond = rule.conditions
            if cond.eventType and cond.eventType != ev.event.eventType:
                continue
            value = observe(cond.metric, ev, history, cond.timeWindow)
            if value is not None and OPERATORS[cond.operator](value, cond.threshold):
                matched.append((rule, value))
        if not matched:
            return []
        score = max(RULE_SCORES[Severity(r.severity)] for r, _ in matched)
        explanation = [
            Explanation(
                feature=r.conditions.metric.value,
                observed=v,
                expected=r.conditions.threshold,
                detail=_describe(r, v),
            )
            for r, v in matched
        ]
        description = "; ".join(_describe(r, v) for r, v in matched)
        extra = {
            "matchedRules": [
                {
                    "ruleId": r.ruleId,
                    "ruleName": r.ruleName,
                    "version": r.version,
                    "actions": [a.model_dump(mode="json") for a in r.actions],
                }
                for r, _ in matched
            ]
        }
        return [Finding(AnomalyType.RULE, score, description, explanation, detector=self.name, extra=extra)]


def observe(metric: Metric, ev: PreparedEvent, history: list[list[Any]], window: int | None) -> float | None:
    """The metric's value for this event; None when the event does not carry it (rule not applicable)."""
    e = ev.event
    if metric in WINDOWED:
        recent = [h for h in history if window and h[0] > ev.epoch - window]
        if metric is Metric.EVENTS_PER_USER:
            return float(len(recent))
        if metric is Metric.AMOUNT_PER_USER:
            return float(sum(h[1] for h in recent)) if e.transactionAmount is not None else None
        return float(len({h[2] for h in recent if h[2]})) if ev.ip else None
    value = getattr(e, metric.value)
    return None if value is None else float(value)


def _describe(rule: Rule, value: float) -> str:
    c = rule.conditions
    window = f" in {c.timeWindow}s" if c.metric in WINDOWED else ""
    return f"Rule '{rule.ruleName}': {c.metric.value}{window} = {value:g} {c.operator} {c.threshold:g}"
