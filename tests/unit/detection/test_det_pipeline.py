"""The pipeline: contract fields, one load and one save per batch, JSON-serialisable state, time order."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

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


def storable(lo, hi):
    """Floats an event may carry (what may enter: 0 or a magnitude of at least 1e-130, DynamoDB's range)."""
    return st.floats(lo, hi).map(lambda x: 0.0 if abs(x) < 1e-130 else x)


event_rows = st.lists(
    st.fixed_dictionaries(
        {
            "dt": st.floats(0, 4000),
            "eventType": st.sampled_from(["login", "pageview", "transaction", "api_request", "metric", "other"]),
            "amount": st.one_of(st.none(), storable(0, 1e7)),
            "geo": st.one_of(
                st.none(),
                st.sampled_from(["US", "DE", "us-east-1", "ap-southeast-2", "NG"]),
                st.tuples(storable(-90, 90), storable(-180, 180)),
            ),
            "value": storable(-1e6, 1e6),
            "user": st.sampled_from(["a", "b"]),
        }
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=40, deadline=None)
@given(rows=event_rows)
def test_property_any_valid_stream_gives_bounded_scores_and_json_state(rows):
    # Given any contract-valid events, When processed in two batches, Then no error, scores in 0..1,
    # and every stored state is plain JSON
    store = InMemoryStateStore()
    pipe = DetectionPipeline(store)
    t = 1_770_000_000.0
    events = []
    for i, r in enumerate(rows):
        t += r["dt"]
        body = {
            "eventId": f"e{i}",
            "userId": r["user"],
            "timestamp": t,
            "eventType": r["eventType"],
            "ipAddress": "192.0.2.1",
            "deviceId": f"d{i % 3}",
            "sessionId": "s1",
            "userAgent": "curl/8",
        }
        if r["amount"] is not None:
            body["transactionAmount"] = r["amount"]
        if isinstance(r["geo"], tuple):
            body["geoLocation"] = {"latitude": r["geo"][0], "longitude": r["geo"][1], "country": "FR"}
        elif r["geo"]:
            body["geoLocation"] = r["geo"]
        if r["eventType"] == "metric":
            body.update(service="svc", metricName="m", metricValue=r["value"])
        events.append(parse_event(body))
    half = len(events) // 2
    anomalies = pipe.process("t1", events[:half]) + pipe.process("t1", events[half:])
    assert all(0.0 <= a.anomalyScore <= 1.0 for a in anomalies)
    for item in store._items.values():
        json.loads(json.dumps(item.state, allow_nan=False))
