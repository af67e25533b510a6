"""parse+validate -> pseudonymise -> features -> detectors -> score/severity -> anomaly records.

One entry point, `DetectionPipeline.process`, used identically by the Kinesis detector Lambda
(DynamoDB store), `guardian replay` and the demo (in-memory store). A batch loads all the state it
needs in one call and saves it in one call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from anomaly_guardian.config import DetectionConfig
from anomaly_guardian.detection.base import Detector, Finding, PreparedEvent
from anomaly_guardian.models.anomaly import Anomaly, severity_for
from anomaly_guardian.models.event import Event
from anomaly_guardian.privacy import Pseudonymiser
from anomaly_guardian.state.store import StateStore

ConfigProvider = Callable[[str], DetectionConfig]


def default_detectors() -> list[Detector]:
    from anomaly_guardian.detection.registry import build_detectors

    return build_detectors()


class DetectionPipeline:
    def __init__(
        self,
        store: StateStore,
        config_for: ConfigProvider | None = None,
        detectors: Sequence[Detector] | None = None,
        pseudonymiser: Pseudonymiser | None = None,
    ) -> None:
        self.store = store
        self.config_for = config_for or (lambda _tenant: DetectionConfig())
        self.detectors = list(detectors) if detectors is not None else default_detectors()
        self.pseudonymiser = pseudonymiser or Pseudonymiser()

    def prepare(self, tenant: str, event: Event) -> PreparedEvent:
        p = self.pseudonymiser
        return PreparedEvent(
            tenant=tenant,
            event=event,
            epoch=event.timestamp.timestamp(),
            user=p.user(tenant, event.userId),
            ip=p.ip(tenant, event.ipAddress) if event.ipAddress else None,
            device=p.device(tenant, event.deviceId) if event.deviceId else None,
        )

    def process(self, tenant: str, events: Sequence[Event]) -> list[Anomaly]:
        """Detect over one tenant's events (sorted here by event time); returns new anomalies."""
        prepared = sorted((self.prepare(tenant, e) for e in events), key=lambda pe: pe.epoch)
        keys: set[str] = set()
        for pe in prepared:
            for det in self.detectors:
                keys.update(det.state_keys(pe))
        states = self.store.load(keys)
        config = self.config_for(tenant)
        anomalies: list[Anomaly] = []
        for pe in prepared:
            for det in self.detectors:
                for finding in det.detect(pe, states, config):
                    if finding.score >= config.min_score:
                        anomalies.append(self._anomaly(pe, finding))
        self.store.save(states)
        return anomalies

    @staticmethod
    def _anomaly(pe: PreparedEvent, f: Finding) -> Anomaly:
        score = min(1.0, max(0.0, f.score))
        return Anomaly(
            tenantId=pe.tenant,
            severity=severity_for(score),
            anomalyScore=round(score, 4),
            userId=f.entities.get("userId", pe.user),
            anomalyType=f.anomaly_type,
            description=f.description,
            originalEvent=pe.event.summary(),
            explanation=f.explanation,
            detector=f.detector,
            entities={k: v for k, v in (("user", pe.user), ("ip", pe.ip), ("device", pe.device)) if v} | f.entities,
            **f.extra,  # detector-specific fields, e.g. the rule engine's `matchedRules`
        )


__all__ = ["DetectionPipeline", "Finding", "PreparedEvent"]
