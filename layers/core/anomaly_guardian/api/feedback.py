"""POST /anomalies/{anomalyId}/feedback: an analyst's verdict, stored on the anomaly.

Suppression, threshold tuning and the retraining data set read `feedback.label` from the Anomalies
table; the analyst is recorded from the token subject, never from the body.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from anomaly_guardian.adapters.anomalies import AnomalyNotFound
from anomaly_guardian.api.anomalies import AnomalyId
from anomaly_guardian.api.deps import actor_of, audit, services, tenant_of
from anomaly_guardian.api.errors import not_found

router = Router()


class FeedbackBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: Literal["true_positive", "false_positive"]
    note: Annotated[str, StringConstraints(max_length=1000, strip_whitespace=True)] | None = None


class FeedbackResult(BaseModel):
    anomalyId: str
    feedback: dict[str, Any] = Field(description="label, note, submittedBy, submittedAt")


@router.post("/anomalies/<anomalyId>/feedback", summary="Label an anomaly", tags=["feedback"])
def post_feedback(anomalyId: AnomalyId, body: FeedbackBody) -> FeedbackResult:
    raw = router.current_event.raw_event
    tenant = tenant_of(raw)
    feedback = {
        "label": body.label,
        "note": body.note or "",
        "submittedBy": actor_of(raw),
        "submittedAt": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    try:
        services().anomalies.set_feedback(tenant, anomalyId, feedback)
    except AnomalyNotFound:
        raise not_found("Anomaly", anomalyId) from None
    audit(raw, tenant, "anomaly.feedback", anomalyId, label=body.label)
    return FeedbackResult(anomalyId=anomalyId, feedback=feedback)
