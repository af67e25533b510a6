"""Continuous learning: feature drift against the model's training reference, and retraining.

Triggers (EventBridge):
- the hourly drift check (a plain "Scheduled Event"): PSI per feature of the live feature sample
  (written by the model detector) against the training histograms stored in the model artifact;
  published as EMF metrics; drift above the threshold starts retraining (`RETRAIN_ON_DRIFT`);
- the weekly retrain (rule input `{"action": "retrain", "reason": "weekly"}`);
- performance: when analysts marked more than `MAX_FALSE_POSITIVE_SHARE` of the model's recent
  anomalies as false positives (with at least `MIN_FEEDBACK` verdicts), the check retrains too.
Every retrain first exports analyst feedback as `feedback.jsonl` into the training data prefix, then
publishes the retrain request on the application bus (`EVENT_BUS_NAME`, source `anomaly-guardian.drift`,
detail-type `ModelDriftDetected` for drift and feedback, `ModelRetrainRequested` for the schedule);
the template's RetrainOnDriftRule matches both and starts the SageMaker pipeline (one starter: the
rule, whatever produced the event).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from anomaly_guardian.ml.features import FEATURES
from anomaly_guardian.ml.model import ModelBundle, bin_counts, psi
from anomaly_guardian.ml.trainingset import model_feedback

log = logging.getLogger(__name__)

RETRAIN_SOURCE = "anomaly-guardian.drift"
DRIFT_DETECTED = "ModelDriftDetected"
RETRAIN_REQUESTED = "ModelRetrainRequested"


@dataclass(slots=True)
class DriftSettings:
    psi_threshold: float = 0.25  # the usual "significant shift" level
    min_rows: int = 500
    window_hours: int = 24
    retrain_on_drift: bool = True
    feedback_days: int = 180
    min_feedback: int = 20
    max_false_positive_share: float = 0.5


@dataclass(slots=True)
class DriftMonitor:
    load_bundle: Callable[[], ModelBundle | None]  # None: no model deployed yet
    load_samples: Callable[[ModelBundle, int], np.ndarray | None]
    collect_feedback: Callable[[datetime, datetime], list[dict[str, Any]]]
    write_feedback: Callable[[list[dict[str, Any]]], str]
    # (detail-type, detail) -> event id; None: no bus configured (retraining is only logged)
    request_retraining: Callable[[str, dict[str, Any]], str] | None
    champion_pr_auc: Callable[[], float | None] = lambda: None
    settings: DriftSettings = field(default_factory=DriftSettings)

    def handle(
        self,
        event: dict[str, Any],
        emit: Callable[[str, float, dict[str, str] | None], None],
        now: datetime | None = None,
    ) -> dict[str, Any]:
        now = now or datetime.now(UTC)
        if not isinstance(event, dict):
            raise ValueError("drift monitor expects an EventBridge event object")
        if event.get("action") == "retrain":
            return self.retrain(str(event.get("reason") or "scheduled"), now)
        if event.get("action") not in (None, "check"):
            raise ValueError(f"unknown action {event.get('action')!r}: expected 'check' or 'retrain'")
        return self.check(emit, now)

    def check(self, emit: Callable[[str, float, dict[str, str] | None], None], now: datetime) -> dict[str, Any]:
        bundle = self.load_bundle()
        if bundle is None:  # a fresh stack before the first promoted model: nothing to compare yet
            log.info("no model at the detector's model location yet: drift check skipped")
            return {"status": "no_model", "rows": 0}
        rows = self.load_samples(bundle, self.settings.window_hours)
        n = 0 if rows is None else int(rows.shape[0])
        emit("FeatureSampleRows", n, None)
        result: dict[str, Any] = {"modelVersion": bundle.version, "rows": n}
        if rows is None or n < self.settings.min_rows:
            result["status"] = "insufficient_data"
            return result
        if rows.shape[1] != len(FEATURES):
            raise ValueError(f"feature samples have {rows.shape[1]} columns, the model expects {len(FEATURES)}")
        values = psi(bundle.ref_props, bin_counts(rows, bundle.ref_edges))
        for name, value in zip(FEATURES, values, strict=True):
            emit("FeaturePSI", float(value), {"Feature": name})
        drifted = [name for name, value in zip(FEATURES, values, strict=True) if value > self.settings.psi_threshold]
        emit("MaxFeaturePSI", float(values.max()), None)
        emit("DriftedFeatures", len(drifted), None)
        result.update(
            status="drift" if drifted else "stable",
            drifted=drifted,
            psi={k: round(float(v), 4) for k, v in zip(FEATURES, values, strict=True)},
        )
        if drifted and self.settings.retrain_on_drift:
            result["retrain"] = self.retrain("drift", now, {"modelVersion": bundle.version, "drifted": drifted})
        else:
            fb = model_feedback(self.collect_feedback(now - timedelta(days=7), now))
            emit("ModelFalsePositiveShare", fb.false_positive_share, None)
            if (
                fb.total >= self.settings.min_feedback
                and fb.false_positive_share > self.settings.max_false_positive_share
            ):
                fp = round(fb.false_positive_share, 4)
                result["retrain"] = self.retrain(
                    "feedback", now, {"modelVersion": bundle.version, "falsePositiveShare": fp}
                )
        return result

    def retrain(self, reason: str, now: datetime, context: dict[str, Any] | None = None) -> dict[str, Any]:
        rows = self.collect_feedback(now - timedelta(days=self.settings.feedback_days), now)
        location = self.write_feedback(rows)
        out: dict[str, Any] = {"reason": reason, "feedbackRows": len(rows), "feedbackLocation": location}
        champion = self.champion_pr_auc()
        out["championPrAuc"] = champion
        if self.request_retraining is None:
            log.warning("retraining requested (%s) but EVENT_BUS_NAME is not set: no event published", reason)
            out["requested"] = None
            return out
        detail_type = DRIFT_DETECTED if reason in ("drift", "feedback") else RETRAIN_REQUESTED
        detail = {
            "reason": reason,
            "detectedAt": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "feedbackLocation": location,
            "feedbackRows": len(rows),
            "championPrAuc": champion,
            **(context or {}),
        }
        out["requested"] = self.request_retraining(detail_type, detail)
        out["detailType"] = detail_type
        return out
