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
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from anomaly_guardian.config import DetectionConfig
from anomaly_guardian.detection.base import Finding, PreparedEvent
from anomaly_guardian.models.anomaly import AnomalyType, Explanation, Severity
from anomaly_guardian.models.event import storable_problem
from anomaly_guardian.state.store import StateItem, state_key
from anomaly_guardian.usage.cloudtrail import EVENT_TYPE as USAGE_EVENT_TYPE

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


PARAMETER_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


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

    @field_validator("parameters")
    @classmethod
    def _storable(cls, value: dict[str, Any]) -> dict[str, Any]:
        # Stored as a DynamoDB map and read back by GET /rules and the detector: keys must be non-empty
        # names and numbers within DynamoDB's range, or the stored rule could never be read again.
        for key, item in value.items():
            if not PARAMETER_NAME.fullmatch(key):
                raise ValueError(f"parameter names must be 1-64 letters, digits, '_', '-' or '.', got {key!r}")
            if isinstance(item, str) and len(item) > 1000:
                raise ValueError(f"parameter {key} is longer than 1000 characters")
            problem = storable_problem(item)
            if problem:
                raise ValueError(f"parameter {key}: {problem}")
        return value


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
    builtIn: Literal[False] = False


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


_NO_RULES: list[Rule] = []


def no_rules(_tenant: str) -> list[Rule]:
    # The same (never mutated) list every time: RuleDetector recompiles when the provider's list changes.
    return _NO_RULES


@dataclass(frozen=True, slots=True)
class _Check:
    """A rule flattened for the per-event loop (no pydantic attribute access, no enum lookups)."""

    rule: Rule
    metric: str
    window: int  # 0 for instantaneous metrics
    compare: Callable[[float, float], bool]
    threshold: float
    event_type: str | None
    score: float


def _compile(rules: list[Rule]) -> tuple[list[_Check], int]:
    checks = [
        _Check(
            rule=r,
            metric=r.conditions.metric.value,
            window=(r.conditions.timeWindow or 0) if r.conditions.metric in WINDOWED else 0,
            compare=OPERATORS[r.conditions.operator],
            threshold=r.conditions.threshold,
            event_type=r.conditions.eventType,
            score=RULE_SCORES[Severity(r.severity)],
        )
        for r in rules
    ]
    return checks, max((c.window for c in checks), default=0)


class RuleDetector:
    """Evaluates every enabled rule of the event's tenant; one `rule` finding per event listing all matches."""

    name = "rules"
    judges_usage = True  # sees CloudTrail usage events, but applies only rules with eventType "cloudtrail"

    def __init__(self, provider: RuleProvider | None = None):
        self.provider = provider or no_rules
        self._compiled: dict[str, tuple[list[Rule], list[_Check], int]] = {}

    def _checks(self, tenant: str) -> tuple[list[_Check], int]:
        rules = self.provider(tenant)
        hit = self._compiled.get(tenant)
        if hit is None or hit[0] is not rules:  # the provider hands out the same list until its TTL expires
            hit = (rules, *_compile(rules))
            self._compiled[tenant] = hit
        return hit[1], hit[2]

    def state_keys(self, ev: PreparedEvent) -> Iterable[str]:
        if self._checks(ev.tenant)[1]:
            yield state_key(ev.tenant, STATE_KIND, ev.user)

    def detect(self, ev: PreparedEvent, states: dict[str, StateItem], config: DetectionConfig) -> list[Finding]:
        checks, window = self._checks(ev.tenant)
        if not checks:
            return []
        aggregates: dict[int, tuple[int, float, int]] = {}
        item = states.get(state_key(ev.tenant, STATE_KIND, ev.user)) if window else None
        if item is not None:  # None only if the rules changed between load and detect: no history this once
            history = [h for h in item.state.get("h", []) if h[0] > ev.epoch - window]
            history.append([ev.epoch, ev.event.transactionAmount or 0.0, ev.ip])
            item.state["h"] = history[-MAX_HISTORY:]
            item.ttl = int(ev.epoch) + window + 3600
            for w in {c.window for c in checks if c.window}:
                aggregates[w] = _aggregate(history, ev.epoch - w)
        e = ev.event
        matched: list[tuple[_Check, float]] = []
        for c in checks:
            if (c.event_type and c.event_type != e.eventType) or (not c.event_type and e.eventType == USAGE_EVENT_TYPE):
                continue
            value = observe(c, ev, aggregates)
            if value is not None and c.compare(value, c.threshold):
                matched.append((c, value))
        if not matched:
            return []
        details = [_describe(c, v) for c, v in matched]
        explanation = [
            Explanation(feature=c.metric, observed=v, expected=c.threshold, detail=d)
            for (c, v), d in zip(matched, details, strict=True)
        ]
        extra = {
            "matchedRules": [
                {
                    "ruleId": c.rule.ruleId,
                    "ruleName": c.rule.ruleName,
                    "version": c.rule.version,
                    "actions": [a.model_dump(mode="json") for a in c.rule.actions],
                }
                for c, _ in matched
            ]
        }
        score = max(c.score for c, _ in matched)
        return [Finding(AnomalyType.RULE, score, "; ".join(details), explanation, detector=self.name, extra=extra)]


def _aggregate(history: list[list[Any]], after: float) -> tuple[int, float, int]:
    """(count, amount sum, distinct IPs) of the history entries newer than `after`, in one pass."""
    count, total, ips = 0, 0.0, set()
    for at, amount, ip in history:
        if at > after:
            count += 1
            total += amount
            if ip:
                ips.add(ip)
    return count, total, len(ips)


def observe(check: _Check, ev: PreparedEvent, aggregates: dict[int, tuple[int, float, int]]) -> float | None:
    """The metric's value for this event; None when the event does not carry it (rule not applicable)."""
    e = ev.event
    if check.window:
        agg = aggregates.get(check.window)
        if agg is None:
            return None
        if check.metric == "eventsPerUser":
            return float(agg[0])
        if check.metric == "amountPerUser":
            return agg[1] if e.transactionAmount is not None else None
        return float(agg[2]) if ev.ip else None
    value = getattr(e, check.metric)
    return None if value is None else float(value)


def _describe(check: _Check, value: float) -> str:
    window = f" in {check.window}s" if check.window else ""
    op = check.rule.conditions.operator
    return f"Rule '{check.rule.ruleName}': {check.metric}{window} = {value:g} {op} {check.threshold:g}"
