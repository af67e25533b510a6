"""Whether the model detector runs (env `ML_DETECTOR`, `MODEL_PATH`, `MODEL_BUCKET` + `MODEL_KEY`), readable
without importing NumPy: the registry imports `detection.model` only when a model can run (issue 16)."""

from __future__ import annotations

import os


def switch() -> str:
    value = os.environ.get("ML_DETECTOR", "auto").strip().lower()
    if value not in ("auto", "on", "off"):
        raise ValueError(f"ML_DETECTOR must be auto, on or off, got {value!r}")
    return value


def model_location() -> str | None:
    if os.environ.get("MODEL_PATH"):
        return os.environ["MODEL_PATH"]
    bucket, key = os.environ.get("MODEL_BUCKET"), os.environ.get("MODEL_KEY")
    return f"s3://{bucket}/{key}" if bucket and key else None


def model_configured() -> bool:
    """False when `from_environment` would certainly return None (off, or auto without a model)."""
    mode = switch()
    return mode == "on" or (mode == "auto" and model_location() is not None)
