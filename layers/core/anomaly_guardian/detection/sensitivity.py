"""Enhanced monitoring -> detection: a monitored user's thresholds scaled by the flag's thresholdFactor.

The `enhanced_monitoring` action stores `FLAG#monitor#{user}` with `thresholdFactor` in (0, 1]. While
it is live, that user's events are judged with a scaled copy of the tenant's `DetectionConfig`: velocity
limits (events per user/IP, requests per second), the value z and jump-z thresholds, the behavioral
score threshold and `min_score` are multiplied by the factor. Absolute limits, geography (physics)
and service/usage baselines are not user-level and stay as they are. Pure; copies are cached.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from functools import lru_cache

from anomaly_guardian.config import DetectionConfig

# (tenant, pseudonymised users of the batch) -> {user: thresholdFactor} for users with a live flag.
SensitivityProvider = Callable[[str, Collection[str]], Mapping[str, float]]


@lru_cache(maxsize=64)
def _scaled(config_json: str, factor: float) -> DetectionConfig:
    config = DetectionConfig.model_validate_json(config_json)
    v, val, b = config.velocity, config.value, config.behavioral
    return config.model_copy(
        update={
            "velocity": v.model_copy(
                update={
                    "max_events_per_user": max(1, math.ceil(v.max_events_per_user * factor)),
                    "max_events_per_ip": max(1, math.ceil(v.max_events_per_ip * factor)),
                    "max_requests_per_second": v.max_requests_per_second * factor,
                }
            ),
            "value": val.model_copy(update={"z_threshold": val.z_threshold * factor, "jump_z": val.jump_z * factor}),
            "behavioral": b.model_copy(update={"score_threshold": b.score_threshold * factor}),
            "min_score": config.min_score * factor,
        }
    )


def scaled_config(config: DetectionConfig, factor: float) -> DetectionConfig:
    """`config` with the user-level thresholds multiplied by `factor` (factor >= 1: unchanged)."""
    if not 0 < factor < 1:
        return config
    return _scaled(config.model_dump_json(), round(float(factor), 4))


def configs_for_users(config: DetectionConfig, factors: Mapping[str, float]) -> dict[str, DetectionConfig]:
    """Per-user configs for the monitored users of a batch (others use `config` itself)."""
    if not factors:
        return {}
    base = config.model_dump_json()
    return {
        user: _scaled(base, round(float(f), 4))
        for user, f in factors.items()
        if isinstance(f, int | float) and 0 < f < 1
    }


__all__ = ["SensitivityProvider", "configs_for_users", "scaled_config"]
