"""The detector's batch logic without AWS: poison handling, dedupe, per-tenant failure, conflict re-runs."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from anomaly_guardian.detection.base import Finding
from anomaly_guardian.detection.batch import (
    BatchDetector,
    InMemoryAnomalySink,
    InMemoryDedupe,
    ListPoisonSink,
    decode,
    deterministic_anomaly_id,
    dlq_message,
)
from anomaly_guardian.detection.pipeline import DetectionPipeline
from anomaly_guardian.ids import ulid_ms
from anomaly_guardian.models.anomaly import AnomalyType
from anomaly_guardian.privacy import Pseudonymiser
from anomaly_guardian.state.store import InMemoryStateStore, StateConflict, StateItem, state_key

EVENTS = Path(__file__).resolve().parents[1] / "events"


def records(name):
    return json.loads((EVENTS / name).read_text())["Records"]


def record(seq, tenant, event, received="2026-03-01T12:00:05.000Z"):
    data = json.dumps({"tenantId": tenant, "receivedAt": received, "event": event}).encode()
    return {"kinesis": {"sequenceNumber": str(seq), "data": base64.b64encode(data).decode()}, "eventID": f"s:{seq}"}


def ev(eid, user="u1", amount=10.0, ip="203.0.113.1"):
    return {
        "eventId": eid,
        "userId": user,
        "timestamp": "2026-03-01T12:00:00Z",
        "eventType": "transaction",
        "transactionAmount": amount,
        "ipAddress": ip,
    }


class CountingDetector:
    """Counts events per IP in state and flags amounts over 1000 (one finding per such event)."""

    name = "counting"

    def state_keys(self, pe):
        yield state_key(pe.tenant, "ipcount", pe.ip or "none")

    def detect(self, pe, states, config):
        item = states[state_key(pe.tenant, "ipcount", pe.ip or "none")]
        item.state["n"] = item.state.get("n", 0) + 1
        if (pe.event.transactionAmount or 0) > 1000:
            return [Finding(AnomalyType.VALUE, 0.95, "big", detector=self.name)]
        return []


def make(store=None, **kw):
    store = InMemoryStateStore() if store is None else store
    sink, dedupe, dlq = InMemoryAnomalySink(), InMemoryDedupe(), ListPoisonSink()
    det = BatchDetector(
        lambda s: DetectionPipeline(s, detectors=[CountingDetector()], pseudonymiser=Pseudonymiser(b"k")),
        store,
        sink,
        dedupe,
        dlq,
        **kw,
    )
    return det, store, sink, dedupe, dlq


def ip_count(store, tenant="acme", ip="203.0.113.1"):
    key = state_key(tenant, "ipcount", Pseudonymiser(b"k").ip(tenant, ip))
    return store.load([key])[key].state.get("n", 0)


def test_poison_fixture_names_each_problem():
    good, bad = decode(records("kinesis_detector_poison.json"))
    assert len(good) == 3
    reasons = {p.seq[-1]: p.reason for p in bad}
    assert reasons["1"] == "Record data is not valid base64"
    assert reasons["2"].startswith("Malformed JSON")
    assert reasons["3"] == "Missing required field: event.userId"
    assert reasons["4"] == "Missing required field: tenantId"


def test_poison_is_kept_once_with_payload_and_reason_and_not_retried():
    det, _, _, _, dlq = make()
    recs = records("kinesis_detector_poison.json")
    result = det.process(recs)
    assert result.failed == set() and result.poison_kept == 4
    assert result.processed == 3
    assert len(dlq.messages) == 4
    body = json.loads(dlq.messages[0][1])
    assert body["data"] == recs[1]["kinesis"]["data"] and body["reason"] == "Record data is not valid base64"
    assert body["eventID"] == recs[1]["eventID"] and body["sequenceNumber"] == recs[1]["kinesis"]["sequenceNumber"]
    # a redelivery does not duplicate them in the DLQ (nor count them again), nor reprocess the good ones
    again = det.process(recs)
    assert again.failed == set() and len(dlq.messages) == 4 and again.poison_kept == 0
    assert again.processed == 0 and again.skipped == 3


def test_replayed_batch_does_not_double_state_or_anomalies():
    det, store, sink, _, _ = make()
    batch = [record(1, "acme", ev("e1")), record(2, "acme", ev("e2", amount=5000)), record(3, "acme", ev("e3"))]
    first = det.process(batch)
    assert first.failed == set() and len(first.anomalies) == 1 and ip_count(store) == 3
    second = det.process(batch)
    assert second.processed == 0 and second.skipped == 3 and second.anomalies == []
    assert ip_count(store) == 3 and len(sink.items) == 1


def test_duplicates_inside_one_batch_are_processed_once():
    det, store, *_ = make()
    result = det.process([record(1, "acme", ev("e1")), record(2, "acme", ev("e1"))])
    assert result.processed == 1 and result.skipped == 1 and ip_count(store) == 1


def test_events_are_grouped_so_the_pipeline_runs_once_per_tenant():
    det, *_ = make()
    calls = []
    original = det.pipeline.process
    det.pipeline.process = lambda tenant, events: calls.append((tenant, len(events))) or original(tenant, events)
    det.process([record(i, "acme" if i % 2 else "globex", ev(f"e{i}")) for i in range(10)])
    assert sorted(calls) == [("acme", 5), ("globex", 5)]


def test_a_failing_tenant_fails_only_its_records_and_is_retried_cleanly():
    det, _, sink, dedupe, _ = make()
    batch = [record(1, "acme", ev("a1", amount=2000)), record(2, "globex", ev("g1", amount=2000))]
    boom = {"on": True}

    def callback(tenant, anomalies, events):
        assert all(e.eventId in {"a1", "g1"} for e in events)
        if tenant == "globex" and boom["on"]:
            raise RuntimeError("step functions unavailable")

    det.on_anomalies.append(callback)
    result = det.process(batch)
    assert result.failed == {"2"} and result.failed_tenants == {"globex": "RuntimeError"}
    assert dedupe.done == {"acme#a1"}
    # Kinesis redelivers from the failed record on; the callback works now
    boom["on"] = False
    retry = det.process(batch)
    # globex's state was committed on the first attempt: the retry only stores and responds
    assert retry.failed == set() and retry.processed == 0 and retry.resumed == 1 and retry.skipped == 1
    assert ip_count(det.store, "globex") == 1
    assert dedupe.done == {"acme#a1", "globex#g1"}
    # The globex anomaly was stored on the first attempt and again on the retry: same id, one item
    assert sorted(t for t, _ in sink.items) == ["acme", "globex"]
    assert [a.anomalyId for a in retry.anomalies] == [a.anomalyId for t, a in sink.items.items() if t[0] == "globex"]


def test_anomaly_ids_are_deterministic_and_carry_received_at():
    batch = [record(1, "acme", ev("e9", amount=9000), received="2026-03-01T12:00:05.250Z")]
    a1 = make()[0].process(batch).anomalies[0]
    a2 = make()[0].process(batch).anomalies[0]
    assert a1.anomalyId == a2.anomalyId
    assert ulid_ms(a1.anomalyId) == 1772366405250
    assert a1.anomalyId != deterministic_anomaly_id("globex", "e9", 1772366405250, "counting", "value", 0)


class RacingStore(InMemoryStateStore):
    """Before the first save, another shard bumps `victim` (version +1, n += 100); our save then loses."""

    def __init__(self, victim):
        super().__init__()
        self.victim, self.raced, self.loaded_baseline = victim, False, {}

    def load(self, keys):
        out = {}
        for k in keys:
            item = self._items.get(k) or StateItem()
            out[k] = StateItem(state=dict(item.state), version=item.version)
            self.loaded_baseline[k] = (dict(item.state), item.version)
        return out

    def snapshot(self, keys):
        return {k: StateItem(state=dict(self.loaded_baseline[k][0]), version=self.loaded_baseline[k][1]) for k in keys}

    def save(self, items):
        if not self.raced:
            self.raced = True
            other = self._items.setdefault(self.victim, StateItem())
            other.state = {"n": other.state.get("n", 0) + 100}
            other.version += 1
        lost = [k for k, i in items.items() if (self._items.get(k) or StateItem()).version != i.version]
        if lost:
            raise StateConflict(lost)
        for k, i in items.items():
            self._items[k] = StateItem(state=dict(i.state), version=i.version + 1)
            i.version += 1


def test_state_conflict_reloads_and_reruns_without_double_counting():
    victim = state_key("acme", "ipcount", Pseudonymiser(b"k").ip("acme", "203.0.113.1"))
    store = RacingStore(victim)
    det, _, sink, _, _ = make(store)
    batch = [record(i, "acme", ev(f"e{i}", user=f"u{i}", amount=2000 if i == 0 else 5)) for i in range(3)]
    result = det.process(batch)
    assert result.failed == set() and result.conflict_retries == 1
    assert store._items[victim].state == {"n": 103}  # the other shard's 100 plus our 3, each once
    assert len(sink.items) == 1


def test_persistent_conflicts_fail_the_tenant_group():
    class AlwaysConflict(InMemoryStateStore):
        def save(self, items):
            raise StateConflict(list(items))

    det, *_ = make(AlwaysConflict(), max_conflict_retries=2)
    result = det.process([record(1, "acme", ev("e1"))])
    assert result.failed == {"1"} and result.failed_tenants == {"acme": "StateConflictsExhausted"}


@pytest.mark.parametrize("size", [10, 300_000])
def test_dlq_message_keeps_payload_or_flags_truncation(size):
    rec = {"kinesis": {"data": "A" * size, "sequenceNumber": "7"}, "eventID": "s:7"}
    body = json.loads(dlq_message(rec, "Malformed JSON: x", None, "2026-03-01T00:00:00Z"))
    assert len(dlq_message(rec, "r", None, "t")) < 256 * 1024
    if size < 1000:
        assert body["data"] == rec["kinesis"]["data"] and "dataTruncated" not in body
    else:
        assert body["dataTruncated"] is True and body["dataLength"] == size and len(body["dataSha256"]) == 64


def test_a_failing_dlq_still_reports_the_poison_and_retries_keeping_it_later():
    class DownThenUp(ListPoisonSink):
        down = True

        def send(self, messages):
            if self.down:
                raise RuntimeError("sqs down")
            return super().send(messages)

    det, *_ = make()
    det.poison = DownThenUp()
    recs = records("kinesis_detector_poison.json")
    first = det.process(recs)
    assert len(first.failed) == 4 and det.poison.messages == []
    det.poison.down = False
    again = det.process(recs)
    assert again.failed == set() and len(det.poison.messages) == 4


def test_failing_anomaly_store_resumes_without_a_second_state_update():
    det, store, _, dedupe, _ = make()

    class Throttled(InMemoryAnomalySink):
        fail = True

        def put_many(self, anomalies):
            if self.fail:
                self.fail = False
                raise RuntimeError("ProvisionedThroughputExceeded")
            return super().put_many(anomalies)

    det.anomalies = Throttled()
    batch = [record(1, "acme", ev("e1", amount=3000)), record(2, "acme", ev("e2"))]
    first = det.process(batch)
    assert first.failed == {"1", "2"} and ip_count(store) == 2
    # e2 produced nothing and is DONE already; e1 is PENDING with its anomaly
    assert dedupe.markers["acme#e2"] is None and json.loads(dedupe.markers["acme#e1"])[0]["anomalyType"] == "value"
    second = det.process(batch)
    assert second.failed == set() and second.resumed == 1 and second.skipped == 1
    assert ip_count(store) == 2  # not 3 or 4
    assert len(det.anomalies.items) == 1 and dedupe.done == {"acme#e1", "acme#e2"}


class Explodes(CountingDetector):
    """Raises a (non-transient) bug-like error on one particular event."""

    def detect(self, pe, states, config):
        if pe.event.eventId == "bad":
            raise ZeroDivisionError("float division by zero")
        return super().detect(pe, states, config)


class CopyingStore(InMemoryStateStore):
    """Loads fresh objects, as DynamoDBStateStore does (a failed run leaves no trace in the store)."""

    def load(self, keys):
        import copy

        return {k: copy.deepcopy(v) for k, v in super().load(keys).items()}


def test_an_event_the_pipeline_cannot_handle_is_set_aside_alone_with_its_reason():
    store, sink, dedupe, dlq = CopyingStore(), InMemoryAnomalySink(), InMemoryDedupe(), ListPoisonSink()
    det = BatchDetector(
        lambda s: DetectionPipeline(s, detectors=[Explodes()], pseudonymiser=Pseudonymiser(b"k")),
        store,
        sink,
        dedupe,
        dlq,
    )
    batch = [
        record(1, "acme", ev("e1")),
        record(2, "acme", ev("bad")),
        record(3, "acme", ev("e3", amount=5000)),
        record(4, "globex", ev("g1", amount=5000)),
    ]
    result = det.process(batch)
    # nothing is retried: the bad event is in the DLQ with the error, its neighbours and the other tenant are done
    assert result.failed == set() and result.failed_tenants == {}
    assert result.isolated == 1 and result.processed == 3
    ((_, message),) = dlq.messages
    body = json.loads(message)
    assert body["sequenceNumber"] == "2" and "ZeroDivisionError" in body["reason"]
    assert {"acme#e1", "acme#bad", "acme#e3", "globex#g1"} <= dedupe.done
    assert ip_count(store) == 2 and ip_count(store, "globex") == 1
    assert sorted(a.originalEvent["eventId"] for a in sink.items.values()) == ["e3", "g1"]
    # counted once: a redelivery neither re-sends it nor re-runs the others
    again = det.process(batch)
    assert len(dlq.messages) == 1 and again.processed == 0 and again.isolated == 0


def test_a_transient_pipeline_error_fails_only_that_tenant_for_retry():
    class Throttled(Exception):
        response = {"Error": {"Code": "ThrottlingException"}, "ResponseMetadata": {"HTTPStatusCode": 400}}

    class Flaky(CountingDetector):
        def detect(self, pe, states, config):
            if pe.tenant == "acme":
                raise Throttled()
            return super().detect(pe, states, config)

    dedupe, dlq = InMemoryDedupe(), ListPoisonSink()
    det = BatchDetector(
        lambda s: DetectionPipeline(s, detectors=[Flaky()], pseudonymiser=Pseudonymiser(b"k")),
        CopyingStore(),
        InMemoryAnomalySink(),
        dedupe,
        dlq,
    )
    result = det.process([record(1, "acme", ev("e1")), record(2, "globex", ev("g1"))])
    assert result.failed == {"1"} and result.failed_tenants == {"acme": "Throttled"}
    assert dlq.messages == [] and result.isolated == 0 and "globex#g1" in dedupe.done


def test_an_anomaly_the_store_refuses_is_kept_with_its_reason_and_the_others_are_stored():
    from anomaly_guardian.models.anomaly import AnomaliesRejected

    class RefusesOne(InMemoryAnomalySink):
        def put_many(self, anomalies):
            bad = [a for a in anomalies if a.originalEvent["eventId"] == "e2"]
            super().put_many([a for a in anomalies if a not in bad])
            if bad:
                raise AnomaliesRejected([(a.anomalyId, "number out of range") for a in bad])
            return len(anomalies)

    det, _store, _, dedupe, dlq = make()
    det.anomalies = sink = RefusesOne()
    handed = []
    det.on_anomalies = [lambda tenant, anomalies, events: handed.extend(anomalies)]
    result = det.process([record(i, "acme", ev(f"e{i}", amount=5000)) for i in (1, 2, 3)])
    assert result.failed == set() and result.rejected_anomalies == 1
    assert sorted(a.originalEvent["eventId"] for a in sink.items.values()) == ["e1", "e3"]
    assert sorted(a.originalEvent["eventId"] for a in handed) == ["e1", "e3"]
    ((_, message),) = dlq.messages
    body = json.loads(message)
    assert body["kind"] == "anomaly" and "number out of range" in body["reason"]
    assert body["anomaly"]["originalEvent"]["eventId"] == "e2"
    assert {"acme#e1", "acme#e2", "acme#e3"} <= dedupe.done


def test_an_unstorable_anomaly_of_one_tenant_fails_no_record_of_the_batch():
    # issue #10: one record whose anomaly DynamoDB cannot keep made the whole batch (other tenants' records,
    # already processed, included) end up counted as sent to the failure destination.
    from anomaly_guardian.models.anomaly import AnomaliesRejected

    class RefusesAcme(InMemoryAnomalySink):
        def put_many(self, anomalies):
            bad = [a for a in anomalies if a.tenantId == "acme"]
            super().put_many([a for a in anomalies if a not in bad])
            if bad:
                raise AnomaliesRejected([(a.anomalyId, "Number overflow") for a in bad])
            return len(anomalies)

    det, _store, _, dedupe, dlq = make()
    det.anomalies = sink = RefusesAcme()
    batch = [
        record(1, "globex", ev("g1", amount=5000)),
        record(2, "acme", ev("a1", amount=5000)),
        record(3, "initech", ev("i1", amount=5000)),
    ]
    result = det.process(batch)
    assert result.failed == set() and result.failed_tenants == {} and result.rejected_anomalies == 1
    assert sorted(t for t, _ in sink.items) == ["globex", "initech"]
    assert [json.loads(m)["anomaly"]["tenantId"] for _, m in dlq.messages] == ["acme"]
    assert dedupe.done >= {"globex#g1", "acme#a1", "initech#i1"}
