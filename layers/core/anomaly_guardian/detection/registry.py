"""The default set of detectors, in the order they run."""

from __future__ import annotations

from anomaly_guardian.detection.base import Detector


def build_detectors(rule_provider=None) -> list[Detector]:
    """`rule_provider` (tenant -> rules, see detection/rules.py) feeds the tenant rule engine; None: no rules."""
    from anomaly_guardian.detection.behavioral import BehavioralDetector
    from anomaly_guardian.detection.geolocation import GeolocationDetector
    from anomaly_guardian.detection.rules import RuleDetector
    from anomaly_guardian.detection.system import SystemDetector
    from anomaly_guardian.detection.value import ValueDetector
    from anomaly_guardian.detection.velocity import VelocityDetector

    return [
        VelocityDetector(),
        ValueDetector(),
        GeolocationDetector(),
        BehavioralDetector(),
        SystemDetector(),
        RuleDetector(rule_provider),
    ]
