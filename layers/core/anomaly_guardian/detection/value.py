"""Value anomalies: amounts far from the user's robust moving statistics, and an absolute limit."""

from __future__ import annotations

from collections.abc import Iterable

from anomaly_guardian.config import DetectionConfig
from anomaly_guardian.detection.base import Finding, PreparedEvent
from anomaly_guardian.models.anomaly import AnomalyType, Explanation
from anomaly_guardian.state.store import StateItem, state_key


class ValueDetector:
    name = "value"

    def state_keys(self, ev: PreparedEvent) -> Iterable[str]:
        if ev.event.transactionAmount is not None:
            yield state_key(ev.tenant, "value", ev.user)

    def detect(self, ev: PreparedEvent, states: dict[str, StateItem], config: DetectionConfig) -> list[Finding]:
        amount = ev.event.transactionAmount
        if amount is None:
            return []
        limit = config.value.absolute_limit
        if amount > limit:
            score = min(1.0, 0.75 + 0.25 * min(1.0, (amount - limit) / limit))
            return [Finding(AnomalyType.VALUE, score, f"Transaction amount {amount:.2f} above the absolute limit {limit:.2f}",
                            [Explanation(feature="transactionAmount", observed=amount, expected=limit)], detector=self.name)]
        return []
