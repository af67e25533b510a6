"""DynamoDBStateStore against emulated DynamoDB: versions, conflicts, unchanged items, erasure."""

from __future__ import annotations

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
    # Then my save fails for exactly that key, and nothing of my chunk is written
    mine["t#ip#x"].state = {"count": 1}
    mine["t#user#a"].state = {"seen": True}
    with pytest.raises(StateConflict) as err:
        store.save(mine)
    assert err.value.keys == ["t#ip#x"]
    assert isinstance(err.value, PartialStateConflict) and err.value.saved == set()
    fresh = DynamoDBStateStore("test-state").load(["t#ip#x", "t#user#a"])
    assert fresh["t#ip#x"].state == {"count": 5} and fresh["t#user#a"].version == 0
    # And reloading the conflicting key and re-applying succeeds
    mine.update(store.load(["t#ip#x"]))
    mine["t#ip#x"].state["count"] += 1
    store.save(mine)
    assert DynamoDBStateStore("test-state").load(["t#ip#x"])["t#ip#x"].state == {"count": 6}


def test_conflict_in_a_later_chunk_reports_committed_chunks(store):
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
    assert err.value.saved == set(keys[:100])
    # the committed chunk really is committed, the conflicting chunk is not
    fresh = DynamoDBStateStore("test-state").load(["t#k#005", "t#k#120"])
    assert fresh["t#k#005"].version == 1 and fresh["t#k#120"].version == 0
    # snapshot() still gives the state as loaded (before this batch's changes), no read needed
    snap = store.snapshot(["t#k#005", "t#k#120"])
    assert snap["t#k#005"].state == {} and snap["t#k#005"].version == 0
    assert snap["t#k#120"].state == {} and snap["t#k#120"].version == 0


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


def test_transaction_in_flight_on_an_item_is_a_conflict_and_other_errors_raise(store):
    from botocore.exceptions import ClientError

    real = store.ddb
    items = store.load(["t#k#a", "t#k#b"])
    for item in items.values():
        item.state = {"x": 1}

    def cancelled(reasons):
        def transact_write_items(**_kw):
            raise real.exceptions.TransactionCanceledException(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                    "CancellationReasons": reasons,
                },
                "TransactWriteItems",
            )

        return transact_write_items

    class Fake:
        exceptions = real.exceptions

    store._ddb = Fake()
    store._ddb.transact_write_items = cancelled([{"Code": "None"}, {"Code": "TransactionConflict"}])
    with pytest.raises(StateConflict) as err:
        store.save(items)
    assert err.value.keys == ["t#k#b"]
    store._ddb.transact_write_items = cancelled([{"Code": "ThrottlingError"}, {"Code": "None"}])
    with pytest.raises(ClientError):
        store.save(items)
