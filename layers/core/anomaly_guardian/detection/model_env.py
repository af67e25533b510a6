"""The model detector's configuration (`ModelConfig`, built by `wiring.model_config` from DetectorSettings:
ML_DETECTOR, MODEL_PATH, MODEL_BUCKET + MODEL_KEY, ...), readable without importing NumPy: the registry
imports `detection.model` only when a model can run (issue 16)."""

from __future__ import annotations

from dataclasses import dataclass

SWITCHES = ("auto", "on", "off")


@dataclass(frozen=True)
class ModelConfig:
    """How the model detector is built: `DetectorSettings.model_config()` (ML_DETECTOR, MODEL_PATH,
    MODEL_BUCKET/MODEL_KEY, MODEL_REFRESH_SECONDS, MODEL_ENDPOINT_*, FEATURE_SAMPLE_*, ML_METRIC_WINDOWS),
    passed in by `wiring`. `switch`: auto (on when a model is configured), on (a missing model is an
    error) or off."""

    switch: str = "auto"
    path: str | None = None
    bucket: str | None = None
    key: str | None = None
    refresh_seconds: float = 60.0
    endpoint_name: str | None = None
    endpoint_timeout_ms: float = 300.0
    endpoint_failures: int = 3
    endpoint_cooldown_s: float = 30.0
    sample_bucket: str | None = None
    sample_rate: float = 0.05
    metric_windows: bool = False

    def __post_init__(self) -> None:
        if self.switch not in SWITCHES:
            raise ValueError(f"ML_DETECTOR must be auto, on or off, got {self.switch!r}")

    @property
    def location(self) -> str | None:
        if self.path:
            return self.path
        return f"s3://{self.bucket}/{self.key}" if self.bucket and self.key else None


def model_configured(config: ModelConfig | None) -> bool:
    """False when `detection.model.model_detector` would certainly return None (off, or auto without a model)."""
    if config is None:
        return False
    return config.switch == "on" or (config.switch == "auto" and config.location is not None)
