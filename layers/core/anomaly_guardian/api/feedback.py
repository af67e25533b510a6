"""POST /anomalies/{anomalyId}/feedback: an analyst's verdict, stored on the anomaly, fed back to detection.

Threshold tuning and the retraining data set read `feedback.label` from the Anomalies table. The verdict
also drives suppression (`detection.suppression`): `false_positive` suppresses the anomaly's pattern
(anomalyType, entity) for `suppressDays` (default `SUPPRESSION_DAYS`, 30) in the Config table;
`true_positive` lifts a suppression of that pattern. The analyst is recorded from the token subject,
never from the body.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from anomaly_guardian.adapters.anomalies import AnomalyNotFound
from anomaly_guardian.api.anomalies import AnomalyId
from anomaly_guardian.api.deps import ServicesDep, TenantDep, actor_of, record_audit
from anomaly_guardian.api.errors import not_found
from anomaly_guardian.detection.suppression import NEVER_SUPPRESSED, pattern_of

router = Router()


class FeedbackBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: Literal["true_positive", "false_positive"]
    note: Annotated[str, StringConstraints(max_length=1000, strip_whitespace=True)] | None = None
    suppressDays: int | None = Field(
        default=None,
        ge=1,
        le=365,
        description="false_positive only: how long to suppress this pattern (default SUPPRESSION_DAYS, 30)",
    )


class Suppression(BaseModel):
    status: Literal["suppressed", "lifted", "none"]
    anomalyType: str | None = None
    entity: str | None = Field(default=None, description="pseudonymised user, service|metric, or api|entity")
    expiresAt: int | None = Field(default=None, description="epoch seconds (suppressed only)")


class FeedbackResult(BaseModel):
    anomalyId: str
    feedback: dict[str, Any] = Field(description="label, note, submittedBy, submittedAt")
    suppression: Suppression


@router.post("/anomalies/<anomalyId>/feedback", summary="Label an anomaly", tags=["feedback"])
def post_feedback(anomalyId: AnomalyId, body: FeedbackBody, tenant: TenantDep, svc: ServicesDep) -> FeedbackResult:
    raw = router.current_event.raw_event
    feedback = {
        "label": body.label,
        "note": body.note or "",
        "submittedBy": actor_of(raw),
        "submittedAt": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    try:
        anomaly = svc.anomalies.set_feedback(tenant, anomalyId, feedback)
    except AnomalyNotFound:
        raise not_found("Anomaly", anomalyId) from None
    _verdict_metric(anomaly, body.label)
    pattern = pattern_of(anomaly)
    if pattern is not None and pattern[0] in NEVER_SUPPRESSED:  # rule hits always fire: nothing to suppress
        pattern = None
    suppression = Suppression(status="none")
    if pattern is not None and body.label == "false_positive":
        expires = int(time.time()) + (body.suppressDays or svc.suppression_days) * 86400
        svc.config.put_suppression(
            tenant, pattern, expires, {"anomalyId": anomalyId, "createdBy": feedback["submittedBy"]}
        )
        suppression = Suppression(status="suppressed", anomalyType=pattern[0], entity=pattern[1], expiresAt=expires)
    elif pattern is not None and svc.config.delete_suppression(tenant, pattern):
        suppression = Suppression(status="lifted", anomalyType=pattern[0], entity=pattern[1])
    record_audit(svc, raw, tenant, "anomaly.feedback", anomalyId, label=body.label, suppression=suppression.status)
    return FeedbackResult(anomalyId=anomalyId, feedback=feedback, suppression=suppression)


def _verdict_metric(anomaly: dict[str, Any], label: str) -> None:
    """EMF `Verdicts` (count 1) by detector, severity and label: CloudWatch metric math gives each detector's
    precision, TP / (TP + FP), per severity (GET /detectors shows the same from the table)."""
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    from anomaly_guardian.detection.quality import detector_of

    with single_metric(name="Verdicts", unit=MetricUnit.Count, value=1, namespace="AnomalyGuardian") as metric:
        metric.add_dimension(name="detector", value=detector_of(anomaly))
        metric.add_dimension(name="severity", value=str(anomaly.get("severity") or "LOW"))
        metric.add_dimension(name="label", value=label)
