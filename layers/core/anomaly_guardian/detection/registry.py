"""The default set of detectors, in the order they run."""

from __future__ import annotations

from anomaly_guardian.detection.base import Detector


def build_detectors() -> list[Detector]:
    from anomaly_guardian.detection.value import ValueDetector

    return [ValueDetector()]
