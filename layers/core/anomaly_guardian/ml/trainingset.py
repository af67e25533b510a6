"""Analyst feedback -> labelled rows for the next training run (`feedback.jsonl` beside the events).

An anomaly an analyst marked `true_positive` becomes a positive label for its event (kept out of
what the models learn as normal, counted in evaluation); `false_positive` marks the event as
explicitly normal. Rows carry ids and labels only: no user ids, no event payload.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

LABELS = ("true_positive", "false_positive")
MODEL_DETECTOR = "ml"


class AnomalyReader(Protocol):
    def query(
        self,
        tenant: str,
        *,
        from_date: datetime | str | None = None,
        to_date: datetime | str | None = None,
        limit: int = 100,
        next_token: str | None = None,
        **filters: Any,
    ) -> tuple[list[dict[str, Any]], str | None]: ...


def feedback_rows(anomalies: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for a in anomalies:
        fb = a.get("feedback") or {}
        label = fb.get("label")
        event_id = (a.get("originalEvent") or {}).get("eventId")
        if label not in LABELS or not event_id:
            continue
        yield {
            "tenantId": a.get("tenantId"),
            "anomalyId": a.get("anomalyId"),
            "eventId": event_id,
            "label": label,
            "anomalyType": a.get("anomalyType"),
            "detector": a.get("detector"),
            "detectedAt": a.get("detectedAt"),
        }


def collect_feedback(
    repo: AnomalyReader, tenants: Iterable[str], since: datetime, until: datetime, page_size: int = 1000
) -> list[dict[str, Any]]:
    """Every anomaly with feedback in [since, until] for the given tenants (key-condition queries)."""
    rows: list[dict[str, Any]] = []
    for tenant in tenants:
        token = None
        while True:
            items, token = repo.query(tenant, from_date=since, to_date=until, limit=page_size, next_token=token)
            rows.extend(feedback_rows(items))
            if not token:
                break
    return rows


def to_jsonl(rows: Iterable[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows).encode()


@dataclass(slots=True)
class FeedbackSummary:
    total: int
    false_positives: int

    @property
    def false_positive_share(self) -> float:
        return self.false_positives / self.total if self.total else 0.0


def model_feedback(rows: Iterable[dict[str, Any]]) -> FeedbackSummary:
    """How the model's own anomalies were judged: the performance signal for retraining."""
    mine = [r for r in rows if r.get("detector") == MODEL_DETECTOR]
    return FeedbackSummary(len(mine), sum(1 for r in mine if r["label"] == "false_positive"))
