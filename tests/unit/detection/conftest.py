"""Helpers for detector tests: build contract events and run one detector over them with real state."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime

import pytest

from anomaly_guardian.config import DetectionConfig
from anomaly_guardian.detection.pipeline import DetectionPipeline
from anomaly_guardian.models.event import parse_event
from anomaly_guardian.state.store import InMemoryStateStore

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC).timestamp()


class Harness:
    """Runs a pipeline with the given detectors over events built from keyword arguments."""

    def __init__(self, detectors, config: DetectionConfig | None = None):
        self.store = InMemoryStateStore()
        cfg = config or DetectionConfig()
        self.pipeline = DetectionPipeline(self.store, lambda _t: cfg, detectors)
        self._ids = itertools.count()

    def event(self, t: float, **fields):
        body = {
            "eventId": f"e{next(self._ids)}",
            "userId": fields.pop("userId", "alice"),
            "timestamp": datetime.fromtimestamp(T0 + t, UTC).isoformat(),
            "eventType": fields.pop("eventType", "pageview"),
            **fields,
        }
        return parse_event(json.dumps(body))

    def run(self, events, tenant: str = "t1"):
        return self.pipeline.process(tenant, events)

    def feed(self, rows, tenant: str = "t1"):
        """rows: (seconds after T0, fields) pairs; one pipeline call per event (like a live stream)."""
        out = []
        for t, fields in rows:
            out.extend(self.run([self.event(t, **fields)], tenant))
        return out


@pytest.fixture
def harness():
    return Harness
