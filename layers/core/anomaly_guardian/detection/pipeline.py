"""parse+validate -> pseudonymise -> features -> detectors -> score/severity -> anomaly records.

One entry point, `DetectionPipeline.process`, used identically by the Kinesis detector Lambda
(DynamoDB store), `guardian replay` and the demo (in-memory store). A batch loads all the state it
needs in one call and saves it in one call.

Detectors implement `detect(ev, states, config)` per event (in event-time order). A detector may
instead implement `detect_batch(prepared, states, config) -> [(index, Finding)]` to score the whole
sorted batch at once (vectorised models); it runs after the per-event detectors.

`config_for(tenant)` gives the tenant's `DetectionConfig` (its built-in rule thresholds; a built-in
detector whose section is `enabled: false` is skipped for that tenant: no state read, no finding).

With a `sensitivity` provider (the detector Lambda: live `enhanced_monitoring` flags), the users of
the batch are looked up once and a monitored user's events are judged with a scaled config
(`detection.sensitivity`); without one (replay, demo) nothing is looked up.

CloudTrail principals are not end users: usage events (`eventType: cloudtrail`) only reach the
detectors that declare `judges_usage = True` (the usage detector, and the rule engine, which applies
to them only the rules written for them: `conditions.eventType: cloudtrail`). The velocity, value,
geolocation, behavioural and model detectors never see them: no state, no findings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import chain
from operator import attrgetter

from anomaly_guardian.config import DetectionConfig
from anomaly_guardian.detection.base import Detector, Finding, PreparedEvent
from anomaly_guardian.detection.builtin import disabled_sections
from anomaly_guardian.detection.calibration import (
    EVENTS,
    SCORES,
    STATS,
    CalibrationStore,
    InMemoryCalibration,
    budget_floor,
    calibrated,
    events_histogram,
    histogram,
    score_statistic,
)
from anomaly_guardian.detection.sensitivity import SensitivityProvider, configs_for_users
from anomaly_guardian.models.anomaly import Anomaly, severity_for
from anomaly_guardian.models.event import Event
from anomaly_guardian.privacy import Pseudonymiser
from anomaly_guardian.state.store import StateStore
from anomaly_guardian.usage.cloudtrail import EVENT_TYPE as USAGE_EVENT_TYPE

ConfigProvider = Callable[[str], DetectionConfig]
_EPOCH = attrgetter("epoch")


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
        sensitivity: SensitivityProvider | None = None,
        calibration: CalibrationStore | None = None,
    ) -> None:
        # Per-tenant calibration of fixed cut-offs (detection.calibration); in memory unless the caller
        # passes the DynamoDB store (the detector Lambda).
        self.calibration = calibration if calibration is not None else InMemoryCalibration()
        self.store = store
        self.config_for = config_for or (lambda _tenant: DetectionConfig())
        self.detectors = list(detectors) if detectors is not None else default_detectors()
        self.pseudonymiser = pseudonymiser or Pseudonymiser()
        self.sensitivity = sensitivity
        self._event_detectors = [d for d in self.detectors if not hasattr(d, "detect_batch")]
        self._batch_detectors = [d for d in self.detectors if hasattr(d, "detect_batch")]
        self._usage_detectors = [d for d in self._event_detectors if getattr(d, "judges_usage", False)]

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
        p = self.pseudonymiser
        user, ip, device = p.user, p.ip, p.device
        prepared = [
            PreparedEvent(
                tenant,
                e,
                e.timestamp.timestamp(),
                user(tenant, e.userId),
                ip(tenant, e.ipAddress) if e.ipAddress else None,
                device(tenant, e.deviceId) if e.deviceId else None,
            )
            for e in events
        ]
        prepared.sort(key=_EPOCH)
        config = self._calibrated(tenant, self.config_for(tenant))
        off = disabled_sections(config)  # built-in detectors this tenant switched off (`enabled: false`)
        detectors = [d for d in self.detectors if getattr(d, "name", "") not in off] if off else self.detectors
        usage_events = {i for i, pe in enumerate(prepared) if pe.event.eventType == USAGE_EVENT_TYPE}
        business = [pe for i, pe in enumerate(prepared) if i not in usage_events] if usage_events else prepared
        keys: set[str] = set()
        own_ttl: set[str] = set()  # keys of detectors that set their own TTL (`sets_ttl = True`)
        for det in detectors:
            state_keys = det.state_keys
            target = own_ttl if getattr(det, "sets_ttl", False) else keys
            seen = prepared if getattr(det, "judges_usage", False) else business
            target.update(chain.from_iterable(map(state_keys, seen)))
        managed = keys - own_ttl
        keys |= own_ttl
        states = self.store.load(keys)
        min_score = config.min_score
        per_user: dict[str, DetectionConfig] = {}
        if self.sensitivity is not None and prepared:
            per_user = configs_for_users(config, self.sensitivity(tenant, {pe.user for pe in prepared}))
        anomalies: list[Anomaly] = []
        detects = [d.detect for d in self._event_detectors if not off or getattr(d, "name", "") not in off]
        usage_detects = [d.detect for d in self._usage_detectors if not off or getattr(d, "name", "") not in off]
        floors = config.score_floors  # alert budgets: a higher floor per detector
        budgets = config.alert_budgets
        scored: dict[str, list[float]] = {d: [] for d in budgets}  # budgeted detectors' scores, before floors
        for pe in prepared:
            cfg = per_user.get(pe.user, config) if per_user else config
            floor = cfg.min_score
            for detect in usage_detects if pe.event.eventType == USAGE_EVENT_TYPE else detects:
                findings = detect(pe, states, cfg)
                if findings:
                    if budgets:
                        for f in findings:
                            if f.detector in scored and f.score >= floor:
                                scored[f.detector].append(f.score)
                    anomalies.extend(
                        self._anomaly(pe, f)
                        for f in findings
                        if f.score >= floor and (not floors or f.score >= floors.get(f.detector, 0.0))
                    )
        for det in self._batch_detectors:
            if off and getattr(det, "name", "") in off:
                continue
            seen = prepared if getattr(det, "judges_usage", False) else business
            for index, finding in det.detect_batch(seen, states, config):
                pe = seen[index]
                floor = per_user[pe.user].min_score if pe.user in per_user else min_score
                if finding.detector in scored and finding.score >= floor:
                    scored[finding.detector].append(finding.score)
                if floors:
                    floor = max(floor, floors.get(finding.detector, 0.0))
                if finding.score >= floor:
                    anomalies.append(self._anomaly(pe, finding))
        self._drain_observations(tenant, detectors)
        if budgets and prepared:
            self.calibration.add(tenant, EVENTS, events_histogram(len(prepared)))
            for name, scores in scored.items():
                if scores:
                    self.calibration.add(tenant, score_statistic(name), histogram(scores, SCORES))
        if prepared:
            horizon = int(prepared[-1].epoch) + config.state_ttl_days * 86400
            for key in managed:
                states[key].ttl = horizon
            for key in own_ttl:
                if states[key].ttl is None:
                    states[key].ttl = horizon
        # Detectors only ask for keys they update, so "loaded" is "changed"; empty items are skipped.
        self.store.save({k: v for k, v in states.items() if v.state or v.version})
        return anomalies

    def _calibrated(self, tenant: str, config: DetectionConfig) -> DetectionConfig:
        """The tenant's config with cut-offs calibrated on its own recent traffic (only ever fewer alerts)."""
        hists = self.calibration.histograms(tenant, budgets=bool(config.alert_budgets))
        if not hists:
            return config
        sections: dict[str, dict[str, float]] = {}
        for name, counts in hists.items():
            stat = STATS.get(name)
            if stat is None:
                continue
            section = getattr(config, stat.section)
            seed = getattr(section, stat.field)
            cut = calibrated(counts, seed, stat)
            if cut != seed:
                sections.setdefault(stat.section, {})[stat.field] = int(cut) if stat.integer else cut
        update: dict = {name: getattr(config, name).model_copy(update=fields) for name, fields in sections.items()}
        if config.alert_budgets:
            # Alert budgets: the floor re-fitted on the tenant's recent scores and traffic, once there is enough.
            events = sum(hists.get(EVENTS, ()))
            floors = dict(config.score_floors)
            for det, per_10k in config.alert_budgets.items():
                live = budget_floor(hists.get(score_statistic(det)), events, per_10k)
                if live is not None:
                    floors[det] = live
            if floors != config.score_floors:
                update["score_floors"] = floors
        return config.model_copy(update=update) if update else config

    def _drain_observations(self, tenant: str, detectors: Sequence[Detector]) -> None:
        for det in detectors:
            observed = getattr(det, "observed", None)
            if not observed:
                continue
            for statistic, values in observed.items():
                if values:
                    self.calibration.add(tenant, statistic, histogram(values, STATS.get(statistic)))
                    values.clear()

    @staticmethod
    def _anomaly(pe: PreparedEvent, f: Finding) -> Anomaly:
        score = min(1.0, max(0.0, f.score))
        entities = {k: v for k, v in (("user", pe.user), ("ip", pe.ip), ("device", pe.device)) if v}
        entities.update(f.entities)
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
            entities=entities,
            **f.extra,
        )


__all__ = ["DetectionPipeline", "Finding", "PreparedEvent"]
