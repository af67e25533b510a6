"""Detection settings: DESIGN.md's defaults, overridable per tenant (rules and SSM)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class VelocityConfig(BaseModel):
    window_seconds: int = 300
    max_events_per_user: int = 100
    max_events_per_ip: int = 100
    max_requests_per_second: float = 50.0


class ValueConfig(BaseModel):
    absolute_limit: float = 5000.0
    z_threshold: float = 6.0
    min_history: int = 8


class GeoConfig(BaseModel):
    max_speed_kmh: float = 900.0
    min_distance_km: float = 500.0
    flag_new_country: bool = True


class BehavioralConfig(BaseModel):
    score_threshold: float = 0.8


class SystemConfig(BaseModel):
    sigma: float = 3.0
    ewma_lambda: float = 0.2
    warmup_points: int = 30


class DetectionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    velocity: VelocityConfig = Field(default_factory=VelocityConfig)
    value: ValueConfig = Field(default_factory=ValueConfig)
    geolocation: GeoConfig = Field(default_factory=GeoConfig)
    behavioral: BehavioralConfig = Field(default_factory=BehavioralConfig)
    system: SystemConfig = Field(default_factory=SystemConfig)
    # Anomalies below this score are not emitted at all.
    min_score: float = 0.5
    state_ttl_days: int = 90
