"""The anomaly contract (docs/architecture.md, "Anomaly"): one GET /anomalies item, one `guardian replay` line."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from anomaly_guardian.ids import new_ulid


class Severity(StrEnum):
    CRITICAL = "CRITICAL"
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"


class AnomalyType(StrEnum):
    VELOCITY = "velocity"
    VALUE = "value"
    GEOLOCATION = "geolocation"
    BEHAVIORAL = "behavioral"
    SYSTEM = "system"
    USAGE = "usage"
    COST = "cost"
    RULE = "rule"
    ML = "ml"


class AnomaliesRejected(Exception):
    """A store kept every anomaly of a write except these, which it can never accept (not a transient
    failure): `rejected` is [(anomalyId, reason)]. The caller keeps them elsewhere with their reason."""

    def __init__(self, rejected: list[tuple[str, str]], stored: int = 0):
        super().__init__(f"{len(rejected)} anomaly item(s) rejected by the store")
        self.rejected = rejected
        self.stored = stored


# Score thresholds for severity (score is already normalised to 0..1).
SEVERITY_THRESHOLDS: tuple[tuple[float, Severity], ...] = (
    (0.9, Severity.CRITICAL),
    (0.75, Severity.HIGH),
    (0.5, Severity.MEDIUM),
)


def severity_for(score: float) -> Severity:
    for threshold, severity in SEVERITY_THRESHOLDS:
        if score >= threshold:
            return severity
    return Severity.LOW


class Explanation(BaseModel):
    """Which feature drove the score, with what was observed against what was expected."""

    model_config = ConfigDict(extra="allow")

    feature: str
    observed: float | str | None = None
    expected: float | str | None = None
    detail: str | None = None


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# The GET /anomalies item contract (docs/architecture.md): what leaves the system about an anomaly.
CONTRACT_FIELDS = (
    "anomalyId",
    "tenantId",
    "severity",
    "anomalyScore",
    "detectedAt",
    "userId",
    "anomalyType",
    "description",
    "originalEvent",
    "actionsPerformed",
    "explanation",
)


class Anomaly(BaseModel):
    model_config = ConfigDict(extra="allow", use_enum_values=True)

    anomalyId: str = Field(default_factory=new_ulid)
    tenantId: str
    severity: Severity
    anomalyScore: float = Field(ge=0.0, le=1.0)
    detectedAt: str = Field(default_factory=utc_now_iso)
    userId: str  # pseudonymised; for system/usage anomalies the entity (service, API) instead
    anomalyType: AnomalyType
    description: str
    originalEvent: dict[str, Any]
    actionsPerformed: list[dict[str, Any]] = Field(default_factory=list)
    explanation: list[Explanation] = Field(default_factory=list)
    # Not in the minimum contract but useful downstream (correlation, response, evaluation).
    detector: str | None = None
    entities: dict[str, str] = Field(default_factory=dict)
