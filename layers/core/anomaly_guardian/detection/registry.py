"""The default set of detectors, in the order they run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from anomaly_guardian.detection.base import Detector

if TYPE_CHECKING:
    from anomaly_guardian.detection.model import ModelArtifacts


def build_detectors(rule_provider=None, model_artifacts: ModelArtifacts | None = None) -> list[Detector]:
    """`rule_provider` (tenant -> rules, see detection/rules.py) feeds the tenant rule engine; None: no rules.
    `model_artifacts` (adapters.ml_artifacts.S3_ARTIFACTS, from wiring) loads an S3 model, calls an endpoint
    and writes feature samples; without it only a local MODEL_PATH model can load."""
    from anomaly_guardian.detection.behavioral import BehavioralDetector
    from anomaly_guardian.detection.geolocation import GeolocationDetector
    from anomaly_guardian.detection.rules import RuleDetector
    from anomaly_guardian.detection.system import SystemDetector
    from anomaly_guardian.detection.usage import UsageDetector
    from anomaly_guardian.detection.value import ValueDetector
    from anomaly_guardian.detection.velocity import VelocityDetector

    detectors: list[Detector] = [
        VelocityDetector(),
        ValueDetector(),
        GeolocationDetector(),
        BehavioralDetector(),
        SystemDetector(),
        UsageDetector(),
        RuleDetector(rule_provider),
    ]
    # The model detector (env ML_DETECTOR=auto|on|off; auto: on when MODEL_PATH or MODEL_BUCKET/KEY is set).
    from anomaly_guardian.detection.model_env import model_configured

    if model_configured():  # NumPy and the model code are imported only then
        from anomaly_guardian.detection.model import from_environment

        model = from_environment(model_artifacts)
        if model is not None:
            detectors.append(model)
    return detectors
