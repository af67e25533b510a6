"""What may enter is what can be processed: ingest admits exactly what the detector decodes and the stores keep.

Property: for any body, POST /events (IngestService) either refuses it, or every record it wrote goes
through the real detector pipeline (default detectors) with no poison, no failure, no anomaly refused by
the store codec (the DynamoDB attribute conversion of AnomalyRepository), and every event marked done.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anomaly_guardian.adapters.anomalies import AnomalyRepository
from anomaly_guardian.detection.batch import BatchDetector, InMemoryDedupe, ListPoisonSink
from anomaly_guardian.detection.pipeline import DetectionPipeline
from anomaly_guardian.detection.registry import build_detectors
from anomaly_guardian.ingest.service import IngestRequest, IngestService
from anomaly_guardian.privacy import Pseudonymiser
from anomaly_guardian.state.store import InMemoryStateStore


class ListSink:
    def __init__(self) -> None:
        self.entries: list[tuple[bytes, str]] = []

    def put(self, entries):
        self.entries.extend(entries)
        return [None] * len(entries)


class RecordingDdb:
    """BatchWriteItem that keeps what it is given (the items are already DynamoDB attribute values)."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def batch_write_item(self, RequestItems):
        for requests in RequestItems.values():
            self.items.extend(r["PutRequest"]["Item"] for r in requests)
        return {"UnprocessedItems": {}}


def run(body: str | bytes) -> tuple[int, dict[str, Any], Any]:
    """POST /events, then the accepted records through the detector; returns (status, body, outcome)."""
    sink = ListSink()
    response = IngestService(sink, pseudonymiser=Pseudonymiser(b"k")).handle(
        IngestRequest(body=body, content_type="application/json", tenant="acme")
    )
    if response.status != 202:
        assert not sink.entries, "a refused request wrote records"
        return response.status, response.body, None
    ddb, dedupe, poison = RecordingDdb(), InMemoryDedupe(), ListPoisonSink()
    detector = BatchDetector(
        lambda s: DetectionPipeline(s, detectors=build_detectors(), pseudonymiser=Pseudonymiser(b"k")),
        InMemoryStateStore(),
        AnomalyRepository("anomalies", ddb=ddb),
        dedupe,
        poison,
    )
    records = [
        {"kinesis": {"sequenceNumber": str(i), "data": base64.b64encode(data).decode()}, "eventID": f"s:{i}"}
        for i, (data, _) in enumerate(sink.entries)
    ]
    result = detector.process(records)
    return response.status, response.body, (result, ddb, dedupe, poison)


def assert_processed_and_stored(status, body, outcome) -> None:
    result, ddb, dedupe, poison = outcome
    assert poison.messages == [], [json.loads(m)["reason"] for _, m in poison.messages]
    assert result.failed == set() and result.failed_tenants == {}
    assert result.rejected_anomalies == 0 and result.isolated == 0
    ids = body.get("eventIds") or [body["eventId"]]
    assert result.processed + result.skipped == len(ids)
    assert {f"acme#{i}" for i in ids} <= dedupe.done
    assert len(ddb.items) == len(result.anomalies)


BASE = {"eventId": "e-1", "userId": "u-1", "timestamp": "2026-03-02T10:00:00Z", "eventType": "transaction"}


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"k": value}
    return value


# Every defect of issue 10 that reached the stream, plus the edges that must still be accepted.
DEFECTS = {
    "metadata nested 199 levels": {"metadata": nested(199)},
    "metadata nested 33 levels": {"metadata": nested(32)},
    "amount 1e126": {"transactionAmount": 1e126},
    "amount 1e200": {"transactionAmount": 1e200},
    "amount 1e308": {"transactionAmount": 1e308},
    "amount 1e-200": {"transactionAmount": 1e-200},
    "amount true": {"transactionAmount": True},
    "amount '12'": {"transactionAmount": "12"},
    "rps false": {"requestsPerSecond": False},
    "sessionLength '3'": {"sessionLength": "3"},
    "metadata empty key": {"metadata": {"": 1}},
    "metadata 39-digit integer": {"metadata": {"n": 10**38 + 1}},
    "metadata number 1e200": {"metadata": {"n": 1e200}},
    "extra field 1e300": {"score": 1e300},
    "metric value 1e130": {
        "eventType": "metric",
        "service": "checkout",
        "metricName": "latency",
        "metricValue": 1e130,
    },
}
EDGES = {
    "amount just below DynamoDB's limit": {"transactionAmount": 9.9e125},
    "amount 1e-130": {"transactionAmount": 1e-130},
    "amount 0": {"transactionAmount": 0},
    "integer amount": {"transactionAmount": 12},
    "metadata nested 31 levels": {"metadata": nested(30)},
    "metric value -9e125": {"eventType": "metric", "service": "s", "metricName": "m", "metricValue": -9e125},
}


@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_each_defect_that_was_accepted_then_lost_is_now_refused_with_a_reason(name):
    status, body, _ = run(json.dumps(BASE | DEFECTS[name]))
    assert status == 400 and body["code"] == "INVALID_PAYLOAD", body
    field = next(iter(DEFECTS[name].keys() - {"eventType", "service", "metricName"}))
    assert field in body["message"], body["message"]


@pytest.mark.parametrize("name", sorted(EDGES))
def test_edges_are_accepted_and_then_processed_and_stored(name):
    status, body, outcome = run(json.dumps(BASE | EDGES[name]))
    assert status == 202, body
    assert_processed_and_stored(status, body, outcome)


def test_a_huge_but_storable_amount_is_stored_as_a_critical_anomaly():
    status, _body, outcome = run(json.dumps(BASE | {"transactionAmount": 9.9e125}))
    assert status == 202
    result, ddb, *_ = outcome
    assert any(a.severity == "CRITICAL" and a.anomalyType == "value" for a in result.anomalies)
    assert any(i["originalEvent"]["M"]["transactionAmount"] == {"N": "9.9e+125"} for i in ddb.items)


# ---- property: any event, any batch --------------------------------------------------------------

numbers = (
    st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(min_value=-(10**45), max_value=10**45)
    | st.sampled_from([1e125, 9.99e125, 1e126, 1e-130, 1e-131, 5e-324, 0.0, -0.0])
)
scalars = st.none() | st.booleans() | numbers | st.text(max_size=12)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=12,
)
deep = st.integers(min_value=25, max_value=40).map(nested)
field_values = st.one_of(numbers, st.booleans(), st.text(max_size=8), st.none())
event_types = st.sampled_from(["transaction", "login", "pageview", "api_request", "metric", "custom"])


@st.composite
def events(draw, i: int = 0) -> dict[str, Any]:
    event: dict[str, Any] = {
        "eventId": f"e-{i}-{draw(st.integers(0, 3))}",
        "userId": draw(st.sampled_from(["u-1", "u-2", "m\u00fcller", "a/b"])),
        "timestamp": draw(st.sampled_from(["2026-03-02T10:00:00Z", "2026-03-02T10:00:01+02:00", 1772445600])),
        "eventType": draw(event_types),
    }
    for name in ("transactionAmount", "requestsPerSecond", "sessionLength", "metricValue"):
        if draw(st.booleans()):
            event[name] = draw(field_values)
    if event["eventType"] == "metric" or draw(st.booleans()):
        event |= {"service": "svc", "metricName": "m"}
        event.setdefault("metricValue", draw(numbers))
    if draw(st.booleans()):
        event["metadata"] = draw(json_values | deep)
    if draw(st.booleans()):
        event["geoLocation"] = draw(
            st.sampled_from(["US", "us-east-1", "XX", {"latitude": 48.1, "longitude": 11.6}])
            | st.fixed_dictionaries({"latitude": numbers, "longitude": numbers})
        )
    if draw(st.booleans()):
        event["ipAddress"] = draw(st.sampled_from(["203.0.113.9", "2001:db8::1", "not-an-ip"]))
    if draw(st.booleans()):
        event[draw(st.sampled_from(["extra", "x-y", "score"]))] = draw(json_values)
    return event


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(st.lists(st.integers(0, 1000), min_size=1, max_size=4).flatmap(lambda ids: st.tuples(*map(events, ids))))
def test_accepted_implies_processed_and_stored(batch):
    body = json.dumps({"events": list(batch)} if len(batch) > 1 else batch[0])
    status, response, outcome = run(body)
    assert status in (202, 400, 413), response
    if status == 202:
        assert_processed_and_stored(status, response, outcome)
