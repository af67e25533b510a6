"""The default set of detectors, in the order they run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from anomaly_guardian.detection.base import Detector

if TYPE_CHECKING:
    from anomaly_guardian.detection.model import ModelArtifacts
    from anomaly_guardian.detection.model_env import ModelConfig


def build_detectors(
    rule_provider=None, model_artifacts: ModelArtifacts | None = None, model: ModelConfig | None = None
) -> list[Detector]:
    """`rule_provider` (tenant -> rules, see detection/rules.py) feeds the tenant rule engine; None: no rules.
    `model` (wiring.model_config, from DetectorSettings) configures the model detector; None: none.
    `model_artifacts` (adapters.ml_artifacts.S3ModelArtifacts, from wiring) loads an S3 model, calls an
    endpoint and writes feature samples; without it only a local model file (MODEL_PATH) can load."""
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
    # The model detector (ML_DETECTOR=auto|on|off; auto: on when MODEL_PATH or MODEL_BUCKET/KEY is set).
    from anomaly_guardian.detection.model_env import model_configured

    if model_configured(model):  # NumPy and the model code are imported only then
        from anomaly_guardian.detection.model import model_detector

        ml = model_detector(model, model_artifacts)
        if ml is not None:
            detectors.append(ml)
    return detectors
