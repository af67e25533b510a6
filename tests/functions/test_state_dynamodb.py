"""DynamoDBStateStore against emulated DynamoDB: versions, conflicts, unchanged items, erasure."""

from __future__ import annotations

import base64
import json

import pytest

from anomaly_guardian.adapters.dynamodb import client
from anomaly_guardian.state import StateConflict
from anomaly_guardian.state.dynamodb import DynamoDBStateStore, PartialStateConflict


@pytest.fixture
def store(tables):
    return DynamoDBStateStore("test-state")


def test_missing_keys_load_empty_and_new_items_are_created(store):
    items = store.load(["t#value#u1", "t#value#u2"])
    assert items["t#value#u1"].version == 0 and items["t#value#u1"].state == {}
    items["t#value#u1"].state = {"n": 3, "mean": 12.5, "last": [1, 2]}
    store.save(items)
    assert items["t#value#u1"].version == 1
    again = DynamoDBStateStore("test-state").load(["t#value#u1", "t#value#u2"])
    assert again["t#value#u1"].state == {"n": 3, "mean": 12.5, "last": [1, 2]}
    assert again["t#value#u1"].version == 1 and again["t#value#u1"].ttl
    # An empty never-stored item is not written at all
    assert again["t#value#u2"].version == 0
    assert "Item" not in client("dynamodb").get_item(TableName=store.table, Key={"pk": {"S": "t#value#u2"}})


def test_load_more_than_one_batch_get(store):
    keys = [f"t#k#{i}" for i in range(250)]
    items = store.load(keys)
    for i, key in enumerate(keys):
        items[key].state = {"i": i}
    store.save(items)
    loaded = DynamoDBStateStore("test-state").load(keys)
    assert [loaded[k].state["i"] for k in keys] == list(range(250))
    assert {loaded[k].version for k in keys} == {1}


def test_unchanged_items_are_not_written(store):
    items = store.load(["t#k#a"])
    items["t#k#a"].state = {"x": 1}
    store.save(items)
    items = store.load(["t#k#a"])
    store.save(items)  # nothing changed
    assert items["t#k#a"].version == 1
    assert DynamoDBStateStore("test-state").load(["t#k#a"])["t#k#a"].version == 1


def test_concurrent_writer_loses_with_state_conflict_naming_the_key(store):
    # Given two detectors (two shards) that loaded the same IP state
    other = DynamoDBStateStore("test-state")
    mine = store.load(["t#ip#x", "t#user#a"])
    theirs = other.load(["t#ip#x"])
    # When the other one saves first
    theirs["t#ip#x"].state = {"count": 5}
    other.save(theirs)
    # Then my save fails for exactly that key; the other key is written and reported as saved
    mine["t#ip#x"].state = {"count": 1}
    mine["t#user#a"].state = {"seen": True}
    with pytest.raises(StateConflict) as err:
        store.save(mine)
    assert err.value.keys == ["t#ip#x"]
    assert isinstance(err.value, PartialStateConflict) and err.value.saved == {"t#user#a"}
    fresh = DynamoDBStateStore("test-state").load(["t#ip#x", "t#user#a"])
    assert fresh["t#ip#x"].state == {"count": 5} and fresh["t#user#a"].version == 1
    # And reloading the conflicting key and re-applying succeeds
    mine.update(store.load(["t#ip#x"]))
    mine["t#ip#x"].state["count"] += 1
    store.save(mine)
    assert DynamoDBStateStore("test-state").load(["t#ip#x"])["t#ip#x"].state == {"count": 6}


def test_a_conflict_on_one_of_many_keys_reports_every_other_key_as_committed(store):
    keys = [f"t#k#{i:03d}" for i in range(150)]
    items = store.load(keys)
    other = DynamoDBStateStore("test-state")
    theirs = other.load(["t#k#140"])
    theirs["t#k#140"].state = {"v": "theirs"}
    other.save(theirs)
    for key in keys:
        items[key].state = {"v": "mine"}
    with pytest.raises(PartialStateConflict) as err:
        store.save(items)
    assert err.value.keys == ["t#k#140"]
    assert err.value.saved == set(keys) - {"t#k#140"}
    # the other keys really are committed at version 1, the lost one keeps the other writer's state
    fresh = DynamoDBStateStore("test-state").load(["t#k#005", "t#k#120", "t#k#140"])
    assert fresh["t#k#005"].version == 1 and fresh["t#k#120"].version == 1
    assert fresh["t#k#140"].state == {"v": "theirs"}
    # snapshot() still gives the state as loaded (before this batch's changes), no read needed
    snap = store.snapshot(["t#k#005", "t#k#120"])
    assert snap["t#k#005"].state == {} and snap["t#k#005"].version == 0
    assert snap["t#k#120"].state == {} and snap["t#k#120"].version == 0


def test_state_writes_are_single_item_puts_not_transactions(store):
    # Issue 16: a transactional write bills two write units per item; a conditional PutItem one.
    real = store.ddb
    calls = []

    class Spy:
        exceptions = real.exceptions

        def put_item(self, **kw):
            calls.append(kw["Item"]["pk"]["S"])
            return real.put_item(**kw)

        def transact_write_items(self, **_kw):
            raise AssertionError("state must not be written in transactions")

    items = store.load([f"t#k#{i}" for i in range(40)])
    for item in items.values():
        item.state = {"x": 1}
    store._ddb = Spy()
    store.save(items)
    assert sorted(calls) == sorted(items) and {i.version for i in items.values()} == {1}


def test_erasure_by_exact_keys_and_entity(store):
    items = store.load(["t#value#u1", "t#geo#u1", "t#value#u2"])
    for item in items.values():
        item.state = {"a": 1}
    store.save(items)
    assert store.delete_entity("t", "u1", ["value", "geo", "velocity"]) == 2
    assert store.delete_prefix("t#value#u2") == 1
    assert {k: v.version for k, v in DynamoDBStateStore("test-state").load(items).items()} == {
        "t#value#u1": 0,
        "t#geo#u1": 0,
        "t#value#u2": 0,
    }
    with pytest.raises(ValueError, match="full"):
        store.delete_prefix("t#")


def test_a_lost_condition_is_a_conflict_and_other_errors_raise(store):
    from botocore.exceptions import ClientError

    real = store.ddb
    items = store.load(["t#k#a", "t#k#b"])
    later = store.load(["t#k#c", "t#k#d"])
    alone = store.load(["t#k#e"])
    more = store.load(["t#k#f", "t#k#g"])
    for item in [*items.values(), *later.values(), *alone.values(), *more.values()]:
        item.state = {"x": 1}

    def failing(key, code):
        def put_item(**kw):
            if kw["Item"]["pk"]["S"] != key:
                return {}
            error = {"Error": {"Code": code, "Message": code}}
            if code == "ConditionalCheckFailedException":
                raise real.exceptions.ConditionalCheckFailedException(error, "PutItem")
            raise ClientError(error, "PutItem")

        return put_item

    class Fake:
        exceptions = real.exceptions

    store._ddb = Fake()
    store._ddb.put_item = failing("t#k#b", "ConditionalCheckFailedException")
    with pytest.raises(PartialStateConflict) as err:
        store.save(items)
    assert err.value.keys == ["t#k#b"] and err.value.saved == {"t#k#a"}
    # A throttled write once another key was committed is re-run like a lost race, not failed into a
    # Kinesis retry that would apply the batch twice to the committed key
    store._ddb.put_item = failing("t#k#c", "ThrottlingException")
    with pytest.raises(PartialStateConflict) as err:
        store.save(later)
    assert err.value.keys == ["t#k#c"] and err.value.saved == {"t#k#d"}
    # Nothing committed: the error itself (Kinesis retries the batch as it is)
    store._ddb.put_item = failing("t#k#e", "ThrottlingException")
    with pytest.raises(ClientError, match="ThrottlingException"):
        store.save(alone)
    # An error a retry cannot cure is raised even when other keys were committed
    store._ddb.put_item = failing("t#k#f", "ValidationException")
    with pytest.raises(ClientError, match="ValidationException"):
        store.save(more)


class CountingDetector:
    """Counts each event once on the keys `kinds` names ("ip", "user"): what a re-run must not double."""

    name = "counting"

    def __init__(self, *kinds: str):
        self.kinds = kinds

    def state_keys(self, e):
        from anomaly_guardian.state.store import state_key

        return [state_key(e.tenant, f"{kind}count", getattr(e, kind)) for kind in self.kinds]

    def detect(self, e, states, config):
        for key in self.state_keys(e):
            states[key].state["n"] = states[key].state.get("n", 0) + 1
        return []


def kinesis_record(i: int, user: str, ip: str | None = None) -> dict:
    event = {"eventId": f"e{i}", "userId": user, "timestamp": "2026-03-01T12:00:00Z", "eventType": "login"}
    if ip:
        event["ipAddress"] = ip
    data = json.dumps({"tenantId": "acme", "receivedAt": "2026-03-01T12:00:05.000Z", "event": event}).encode()
    return {"kinesis": {"sequenceNumber": str(i), "data": base64.b64encode(data).decode()}, "eventID": f"s:{i}"}


def batch_detector(store, detector, pseudonyms):
    from anomaly_guardian.detection.batch import BatchDetector, InMemoryAnomalySink, InMemoryDedupe, ListPoisonSink
    from anomaly_guardian.detection.pipeline import DetectionPipeline

    return BatchDetector(
        lambda s: DetectionPipeline(s, detectors=[detector], pseudonymiser=pseudonyms),
        store,
        InMemoryAnomalySink(),
        InMemoryDedupe(),
        ListPoisonSink(),
    )


def test_given_a_race_on_one_key_when_the_batch_reruns_then_keys_committed_first_count_each_event_once(tables):
    # Given the real store under the batch detector, and another shard that bumps the shared IP key
    # between this batch's load and its save (first attempt only)
    from anomaly_guardian.privacy import Pseudonymiser
    from anomaly_guardian.state.store import state_key

    pseudonyms = Pseudonymiser(b"k")
    shared = state_key("acme", "ipcount", pseudonyms.ip("acme", "203.0.113.1"))

    class RacedStore(DynamoDBStateStore):
        raced = False

        def save(self, items):
            if not self.raced:
                self.raced = True
                other = DynamoDBStateStore("test-state")
                theirs = other.load([shared])
                theirs[shared].state = {"n": 100}
                other.save(theirs)
            return super().save(items)

    det = batch_detector(RacedStore("test-state"), CountingDetector("ip", "user"), pseudonyms)
    # When a batch of three users' events is processed (the first save loses the race on the IP key only)
    result = det.process([kinesis_record(i, f"u{i}", "203.0.113.1") for i in range(3)])
    # Then it was re-run once, and every key holds each event exactly once
    assert result.failed == set() and result.conflict_retries == 1
    fresh = DynamoDBStateStore("test-state")
    assert fresh.load([shared])[shared].state == {"n": 103}
    users = [state_key("acme", "usercount", pseudonyms.user("acme", f"u{i}")) for i in range(3)]
    loaded = fresh.load(users)
    assert [loaded[k].state for k in users] == [{"n": 1}] * 3 and {loaded[k].version for k in users} == {2}


def test_given_a_throttled_write_after_others_committed_when_the_batch_reruns_then_each_event_counts_once(tables):
    # Given the real store under the batch detector, whose first save has one key's write throttled
    # (after boto3's own retries) while the other keys are committed
    from botocore.exceptions import ClientError

    from anomaly_guardian.privacy import Pseudonymiser
    from anomaly_guardian.state.store import state_key

    pseudonyms = Pseudonymiser(b"k")
    throttled = state_key("acme", "usercount", pseudonyms.user("acme", "u1"))

    class ThrottledOnce(DynamoDBStateStore):
        done = False

        def _put_all(self, puts):
            if self.done:
                return super()._put_all(puts)
            self.done = True
            rest = [p for p in puts if p["Item"]["pk"]["S"] != throttled]
            outcomes = iter(super()._put_all(rest))
            error = ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "PutItem")
            return [error if p["Item"]["pk"]["S"] == throttled else next(outcomes) for p in puts]

    det = batch_detector(ThrottledOnce("test-state"), CountingDetector("user"), pseudonyms)
    # When a batch of six events of three users is processed
    result = det.process([kinesis_record(i, f"u{i % 3}") for i in range(6)])
    # Then the tenant was re-run in place (not failed into a Kinesis retry), every key counts its two events
    assert result.failed == set() and result.conflict_retries == 1
    users = [state_key("acme", "usercount", pseudonyms.user("acme", f"u{i}")) for i in range(3)]
    loaded = DynamoDBStateStore("test-state").load(users)
    assert [loaded[k].state for k in users] == [{"n": 2}] * 3
