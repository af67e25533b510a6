"""Detection settings: the defaults, overridable per tenant.

Every number a detector compares against lives here, so a tenant can tune it without a deploy and a
reviewer can see the defaults in one place. Each section's `enabled` switches that detector on or off.
A tenant's effective config is these defaults with the tenant's built-in rule settings applied
(`detection.builtin`: `PUT /rules/velocity-check` etc.); in the detector path read it with
the `config_for` port `wiring` builds from `adapters.config_repo.config_provider` (cached per tenant).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VelocityConfig(_Section):
    enabled: bool = True
    window_seconds: int = Field(default=300, gt=0)
    max_events_per_user: int = Field(default=100, ge=1)
    max_events_per_ip: int = Field(default=100, ge=1)
    # A client reporting more than this (requestsPerSecond) is flagged on that event.
    max_requests_per_second: float = Field(default=50.0, gt=0)
    # After a finding for an entity, stay quiet for this long (one anomaly per burst, no alert storm).
    cooldown_seconds: int = Field(default=600, ge=0)


class ValueConfig(_Section):
    enabled: bool = True
    absolute_limit: float = Field(default=5000.0, gt=0)
    # Robust z-score of log(amount) against the user's moving median-like level and scale.
    z_threshold: float = Field(default=4.5, gt=0)
    # Amounts below this never fire the statistical rule (a $40 coffee spree is not fraud review).
    min_amount: float = Field(default=200.0, ge=0)
    # Population prior (normal model on log-amount) for users with little history: the typical
    # user's median amount, how much users' medians differ (tau), a typical user's own spread
    # (sigma_w), and how many transactions' worth of weight the prior spread carries.
    prior_median: float = Field(default=60.0, gt=0)
    prior_between_scale: float = Field(default=0.9, gt=0)
    prior_within_scale: float = Field(default=0.55, gt=0)
    prior_strength: float = Field(default=3.0, gt=0)
    # Jump rule: at least `jump_ratio` times the largest amount the user has made (over
    # >= `jump_min_history` transactions) while already unusual (robust z >= `jump_z`).
    jump_ratio: float = Field(default=10.0, gt=1)
    jump_z: float = Field(default=3.0, gt=0)
    jump_min_history: int = Field(default=3, ge=1)
    # Transactions before the explanation stops saying "mostly prior".
    min_history: int = Field(default=5, ge=1)
    # Smallest log-scale a user profile may claim (very regular spenders still vary).
    min_log_scale: float = Field(default=0.25, gt=0)
    # EWMA horizon (transactions) of the per-user level and scale.
    horizon: int = Field(default=30, ge=2)


class GeoConfig(_Section):
    enabled: bool = True
    max_speed_kmh: float = Field(default=900.0, gt=0)
    # Jumps shorter than this (after subtracting location uncertainty) never count as travel.
    min_distance_km: float = Field(default=500.0, ge=0)
    flag_new_country: bool = True
    # A user needs this many located events before a new country is notable.
    new_country_min_history: int = Field(default=5, ge=1)
    new_country_score: float = Field(default=0.55, ge=0, le=1)
    max_countries_remembered: int = Field(default=32, ge=1)


class BehavioralConfig(_Section):
    enabled: bool = True
    score_threshold: float = Field(default=0.6, ge=0, le=1)
    # A session is a run of events with one sessionId (or, without one, gaps below this).
    session_gap_seconds: int = Field(default=1800, gt=0)
    # Timing regularity: coefficient of variation of inter-event gaps below this, over at least
    # `min_intervals` gaps of interactive events (pageview/login), looks scripted.
    regular_cv: float = Field(default=0.2, gt=0)
    min_intervals: int = Field(default=8, ge=3)
    # Many distinct pages at machine pace: pages per minute above this over >= min_intervals events.
    max_pages_per_minute: float = Field(default=40.0, gt=0)
    max_devices_remembered: int = Field(default=16, ge=1)


class SystemConfig(_Section):
    enabled: bool = True
    # Run rule: `run_length` consecutive points beyond `sigma` robust standard deviations, same side.
    sigma: float = Field(default=3.0, gt=0)
    run_length: int = Field(default=3, ge=1)
    # A single point this far out is an anomaly on its own (heavy tails make 3 sigma too eager).
    spike_sigma: float = Field(default=8.0, gt=0)
    # Two-sided CUSUM on clipped robust z-scores: slack k and decision interval h.
    cusum_k: float = Field(default=0.75, ge=0)
    cusum_h: float = Field(default=12.0, gt=0)
    # Level/trend smoothing (Holt) and scale horizon; the level tracks daily cycles and slow drift.
    ewma_lambda: float = Field(default=0.2, gt=0, le=1)
    trend_beta: float = Field(default=0.02, ge=0, le=1)
    scale_beta: float = Field(default=0.02, gt=0, le=1)
    warmup_points: int = Field(default=30, ge=3)
    # After an alarm: the episode lasts until `recovery_points` in-control points (no new alarm);
    # a shift that persists `rebase_points` becomes the new normal; then `cooldown_points` of quiet.
    recovery_points: int = Field(default=5, ge=1)
    rebase_points: int = Field(default=60, ge=2)
    cooldown_points: int = Field(default=15, ge=0)
    # A gap of more than this many sampling intervals restarts the level (keeps the scale).
    max_gap_intervals: float = Field(default=30.0, gt=1)
    # Scale floor relative to the level, for flat or integer-valued series (0 MAD).
    min_relative_scale: float = Field(default=0.01, ge=0)


class UsageConfig(_Section):
    """CloudTrail usage: calls per API and entity per bucket against a seasonal (hour-of-day) baseline."""

    enabled: bool = True

    bucket_seconds: int = Field(default=300, gt=0)
    # Poisson-style z of the bucket count over the baseline that flags a spike.
    z_threshold: float = Field(default=6.0, gt=0)
    # A spike also needs at least this many calls and this multiple of the expected count.
    min_count: int = Field(default=30, ge=1)
    min_ratio: float = Field(default=3.0, ge=1)
    # APIs where a few unexpected calls already matter (compute, keys, volumes): lower floor.
    sensitive_min_count: int = Field(default=5, ge=1)
    # Read-only calls (Describe*, Get*, List*: CloudTrail's readOnly) cost nothing and burst with every
    # deploy and console session: a spike of them needs this many calls per bucket.
    readonly_min_count: int = Field(default=300, ge=1)
    # Hours of history an entity needs before a first-seen GPU launch or a spike is judged.
    warmup_hours: float = Field(default=24.0, ge=0)
    # An event this many hours older than its entity's open bucket is a backfill (a replay of an older
    # trail, `guardian cloudtrail send` of last month): that entity's history starts again from it, and
    # needs `warmup_hours` before it is judged. Later-than-this events count toward the open bucket.
    rewind_hours: float = Field(default=24.0, gt=0)
    # Dollar estimate of an Invoke spike (CloudTrail does not say how long or how big an invocation is).
    lambda_typical_memory_mb: float = Field(default=512.0, gt=0)
    lambda_typical_duration_ms: float = Field(default=1000.0, gt=0)


class CostConfig(_Section):
    """Cost anomalies (built-in rule `cost-check`): report when the estimated total impact exceeds this."""

    enabled: bool = True
    min_total_impact_usd: float = Field(default=100.0, gt=0)


class DetectionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    velocity: VelocityConfig = Field(default_factory=VelocityConfig)
    value: ValueConfig = Field(default_factory=ValueConfig)
    geolocation: GeoConfig = Field(default_factory=GeoConfig)
    behavioral: BehavioralConfig = Field(default_factory=BehavioralConfig)
    system: SystemConfig = Field(default_factory=SystemConfig)
    usage: UsageConfig = Field(default_factory=UsageConfig)
    cost: CostConfig = Field(default_factory=CostConfig)
    # Anomalies below this score are not emitted at all.
    min_score: float = Field(default=0.5, ge=0, le=1)
    # Per detector (finding.detector), a higher floor set from the tenant's alert budget
    # (PUT /detectors/{id}/budget; stored on the built-in rule's item, see detection.builtin).
    score_floors: dict[str, float] = Field(default_factory=dict)
    # Per detector, the tenant's alert budget (MEDIUM+ alerts per 10k events): the pipeline re-fits the floor
    # to the tenant's own recent scores once it has seen enough traffic (detection.calibration.budget_floor).
    alert_budgets: dict[str, float] = Field(default_factory=dict)
    state_ttl_days: int = Field(default=90, ge=1)
