"""GET /detectors, POST /detectors/{detector}/simulate, PUT /detectors/{detector}/budget: which detector is
noisy, what a different threshold or alert budget would have done, and setting the budget.

Figures come from the tenant's stored anomalies of the last `hours` (analysts' verdicts included) and the
detector's hourly event counters (detection.quality explains the definitions). A budget is stored on the
built-in rule's item of the detector (the per-tenant settings the detector already reads, cached 30 s):
its score floor is calibrated on the stored scores of the period when it is set, and from then on the
detector pipeline re-fits it to the tenant's live scores and traffic (detection.calibration.budget_floor).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from anomaly_guardian.adapters.anomalies import MAX_LIMIT
from anomaly_guardian.api.deps import Services, ServicesDep, TenantDep, actor_of, record_audit
from anomaly_guardian.api.errors import ApiError, not_found
from anomaly_guardian.detection import quality
from anomaly_guardian.detection.builtin import BUILTINS, detector_rule

router = Router()
MAX_ANOMALIES = 20_000  # read at most this many stored anomalies per request (20 pages)
DetectorName = Annotated[str, Path(pattern=r"^[a-z][a-z_-]{0,31}$", description="detector name, e.g. system")]
Hours = Annotated[int, Query(ge=1, le=168, description="period: the last N hours (default 24)")]


class DetectorsView(BaseModel):
    periodHours: int
    events: int = Field(description="events the detector processed for this tenant in the period")
    truncated: bool = Field(description="more anomalies than were read; figures cover the newest ones")
    detectors: list[dict[str, Any]] = Field(description="noisiest first; see docs/api.md")


class SimulateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    threshold: float | None = Field(default=None, ge=0, le=1, description="a score floor to replay")
    alertsPer10k: float | None = Field(default=None, ge=0, le=10_000, description="an alert budget to replay")
    hours: int = Field(default=24, ge=1, le=168)

    @model_validator(mode="after")
    def _one(self) -> SimulateBody:
        if (self.threshold is None) == (self.alertsPer10k is None):
            raise ValueError("give exactly one of threshold and alertsPer10k")
        return self


class BudgetBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alertsPer10k: float | None = Field(
        ge=0, le=10_000, description="at most this many MEDIUM+ alerts per 10,000 events; null removes the budget"
    )
    hours: int = Field(default=24, ge=1, le=168, description="the stored scores the floor is calibrated on")


def _period(hours: int) -> tuple[datetime, datetime]:
    end = datetime.now(UTC)
    return end - timedelta(hours=hours), end


def _stored(svc: Services, tenant: str, start: datetime, end: datetime) -> tuple[list[dict[str, Any]], bool]:
    repo = svc.anomalies
    items: list[dict[str, Any]] = []
    token = None
    while len(items) < MAX_ANOMALIES:
        page, token = repo.query(tenant, from_date=start, to_date=end, limit=MAX_LIMIT, next_token=token)
        items.extend(page)
        if not token:
            return items, False
    return items, True


def _events(svc: Services, tenant: str, start: datetime, end: datetime) -> int:
    counters = svc.counters
    return int(counters.totals([tenant], start, end)["events"]) if counters is not None else 0


def _budgets(svc: Services, tenant: str) -> dict[str, dict[str, Any]]:
    overrides = svc.config.builtin_overrides(tenant)
    out = {}
    for rule_id, o in overrides.items():
        spec = BUILTINS.get(rule_id)
        if spec is not None and o.alertBudget is not None:
            out[spec.section] = {"alertBudget": o.alertBudget, "scoreFloor": o.scoreFloor}
    return out


@router.get("/detectors", summary="Alert rate and analysts' precision per detector", tags=["detectors"])
def get_detectors(hours: Hours = 24, *, tenant: TenantDep, svc: ServicesDep) -> DetectorsView:
    start, end = _period(hours)
    items, truncated = _stored(svc, tenant, start, end)
    events = _events(svc, tenant, start, end)
    rows = quality.summarise(items, events, _budgets(svc, tenant))
    return DetectorsView(periodHours=hours, events=events, truncated=truncated, detectors=rows)


@router.post(
    "/detectors/<detector>/simulate",
    summary="Replay the period's stored alerts against a threshold or budget",
    tags=["detectors"],
)
def post_simulate(detector: DetectorName, body: SimulateBody, tenant: TenantDep, svc: ServicesDep) -> dict[str, Any]:
    start, end = _period(body.hours)
    items, truncated = _stored(svc, tenant, start, end)
    mine = [a for a in items if quality.detector_of(a) == detector]
    floor = _budgets(svc, tenant).get(detector, {}).get("scoreFloor")
    result = quality.simulate(
        mine,
        _events(svc, tenant, start, end),
        threshold=body.threshold,
        alerts_per_10k=body.alertsPer10k,
        current_floor=floor,
    )
    return {"detector": detector, "periodHours": body.hours, "truncated": truncated, **result}


@router.put("/detectors/<detector>/budget", summary="Set or remove a detector's alert budget", tags=["detectors"])
def put_budget(detector: DetectorName, body: BudgetBody, tenant: TenantDep, svc: ServicesDep) -> dict[str, Any]:
    raw = router.current_event.raw_event
    rule_id = detector_rule(detector)
    if rule_id is None:
        raise not_found("Detector with per-tenant settings", detector)
    floor = None
    result: dict[str, Any] | None = None
    if body.alertsPer10k is not None:
        start, end = _period(body.hours)
        items, _ = _stored(svc, tenant, start, end)
        mine = [a for a in items if quality.detector_of(a) == detector]
        events = _events(svc, tenant, start, end)
        if events <= 0:
            raise ApiError(400, "NO_TRAFFIC", f"No events counted in the last {body.hours} h to calibrate against")
        result = quality.simulate(mine, events, alerts_per_10k=body.alertsPer10k)
        floor = result["threshold"]
    before = _budgets(svc, tenant).get(detector)
    stored = svc.config.put_budget(
        tenant, rule_id, alert_budget=body.alertsPer10k, score_floor=floor, actor=actor_of(raw)
    )
    record_audit(
        svc,
        raw,
        tenant,
        "detector.budget.update",
        detector,
        old=before,
        new={"alertBudget": body.alertsPer10k, "scoreFloor": floor},
    )
    return {
        "detector": detector,
        "alertsPer10k": stored.alertBudget,
        "scoreFloor": stored.scoreFloor,
        "calibration": result,
    }
