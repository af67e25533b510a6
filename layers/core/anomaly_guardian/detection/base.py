"""What every detector implements, and what flows between pipeline stages."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from anomaly_guardian.config import DetectionConfig
from anomaly_guardian.models.anomaly import AnomalyType, Explanation
from anomaly_guardian.models.event import Event
from anomaly_guardian.state.store import StateItem


@dataclass(slots=True)
class PreparedEvent:
    """An event after validation and pseudonymisation: detectors never see raw user ids or IPs."""

    tenant: str
    event: Event
    epoch: float
    user: str  # pseudonymised user id
    ip: str | None  # pseudonymised IP
    device: str | None  # pseudonymised device id


@dataclass(slots=True)
class Finding:
    anomaly_type: AnomalyType
    score: float  # 0..1
    description: str
    explanation: list[Explanation] = field(default_factory=list)
    detector: str = ""
    entities: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


class Detector(Protocol):
    name: str

    def state_keys(self, ev: PreparedEvent) -> Iterable[str]:
        """The state this event needs (loaded once per batch for all events)."""

    def detect(self, ev: PreparedEvent, states: dict[str, StateItem], config: DetectionConfig) -> list[Finding]:
        """Update state with the event and return findings (usually none)."""
