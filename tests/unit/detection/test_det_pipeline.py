"""The pipeline: contract fields, one load and one save per batch, JSON-serialisable state, time order."""

from __future__ import annotations

import json

from anomaly_guardian.detection.base import Finding
from anomaly_guardian.detection.pipeline import DetectionPipeline
from anomaly_guardian.models.anomaly import AnomalyType, Explanation
from anomaly_guardian.models.event import parse_event
from anomaly_guardian.scenario.generator import generate
from anomaly_guardian.state.store import InMemoryStateStore


class CountingStore(InMemoryStateStore):
    def __init__(self):
        super().__init__()
        self.loads = self.saves = 0
        self.saved_keys: list[str] = []

    def load(self, keys):
        self.loads += 1
        return super().load(keys)

    def save(self, items):
        self.saves += 1
        self.saved_keys.extend(items)
        super().save(items)


class OrderSpy:
    name = "spy"

    def __init__(self):
        self.seen = []

    def state_keys(self, ev):
        return ()

    def detect(self, ev, states, config):
        self.seen.append(ev.event.eventId)
        if ev.event.eventId == "late":
            return [Finding(AnomalyType.RULE, 0.95, "spy", [Explanation(feature="x", observed=1, expected=0)])]
        return []


def ev(eid, ts, **kw):
    return parse_event({"eventId": eid, "userId": "alice", "timestamp": ts, "eventType": "login", **kw})


def test_given_unsorted_events_when_processed_then_detectors_see_event_time_order_and_contract_fields():
    spy = OrderSpy()
    pipe = DetectionPipeline(InMemoryStateStore(), detectors=[spy])
    anomalies = pipe.process("t1", [ev("late", "2026-03-02T10:00:05Z"), ev("early", "2026-03-02T10:00:00Z")])
    assert spy.seen == ["early", "late"]
    a = json.loads(anomalies[0].model_dump_json())
    for field in (
        "anomalyId",
        "tenantId",
        "severity",
        "anomalyScore",
        "detectedAt",
        "userId",
        "anomalyType",
        "description",
        "originalEvent",
        "actionsPerformed",
        "explanation",
    ):
        assert field in a
    assert a["tenantId"] == "t1" and a["severity"] == "CRITICAL" and a["userId"] != "alice"
    assert a["originalEvent"] == {"eventId": "late", "timestamp": "2026-03-02T10:00:05Z", "eventType": "login"}


def test_given_a_generated_batch_when_processed_then_one_load_one_save_and_state_is_json():
    store = CountingStore()
    pipe = DetectionPipeline(store)
    scenario = generate(3000, seed=2)
    events = [parse_event(e) for e in scenario.events[:2000]]
    pipe.process("t1", events)
    assert (store.loads, store.saves) == (1, 1)
    assert store.saved_keys and all(k.startswith("t1#") for k in store.saved_keys)
    for key in store.saved_keys:
        item = store._items[key]
        assert item.state and item.ttl is not None
        json.dumps(item.state)  # the DynamoDB store serialises state as JSON


def test_given_two_tenants_when_processed_then_state_is_separate():
    store = InMemoryStateStore()
    pipe = DetectionPipeline(store)
    e = ev("a", "2026-03-02T10:00:00Z", transactionAmount=20.0, ipAddress="192.0.2.1")
    pipe.process("t1", [e])
    pipe.process("t2", [e])
    assert {k.split("#")[0] for k in store._items} == {"t1", "t2"}
