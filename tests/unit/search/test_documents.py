"""Stream records -> bulk actions, pure."""

from __future__ import annotations

import json

import pytest

from anomaly_guardian.adapters.dynamodb import to_item
from anomaly_guardian.search.documents import NotAnAnomaly, action_for, bulk_body, failed_items

ITEM = {
    "pk": "T#acme",
    "sk": "A#01JD0000000000000000000000",
    "anomalyId": "01JD0000000000000000000000",
    "tenantId": "acme",
    "severity": "HIGH",
    "anomalyScore": 0.8,
    "detectedAt": "2026-11-20T10:00:00.000Z",
    "userId": "u_1",
    "anomalyType": "value",
    "description": "d",
    "gsi1pk": "T#acme#U#u_1",
    "ttl": 1,
    "originalEvent": {"eventId": "e1", "timestamp": "2026-11-20T09:59:59Z", "eventType": "transaction"},
}


def record(name: str, image: dict, seq: str = "100") -> dict:
    key = "OldImage" if name == "REMOVE" else "NewImage"
    return {"eventName": name, "dynamodb": {"SequenceNumber": seq, key: to_item(image)}}


def test_insert_becomes_an_index_action_without_key_attributes():
    action = action_for(record("INSERT", ITEM), "anomalies")
    assert (action.op, action.index, action.doc_id) == ("index", "anomalies-2026.11", "acme:01JD0000000000000000000000")
    assert "pk" not in action.document and "gsi1pk" not in action.document and "ttl" not in action.document
    lines = bulk_body([action]).decode().splitlines()
    assert json.loads(lines[0]) == {"index": {"_index": "anomalies-2026.11", "_id": "acme:01JD0000000000000000000000"}}
    assert json.loads(lines[1])["originalEvent"]["eventId"] == "e1"


def test_remove_becomes_a_delete_action_with_no_body():
    action = action_for(record("REMOVE", ITEM), "anomalies")
    assert action.op == "delete" and action.document is None
    assert len(bulk_body([action]).decode().splitlines()) == 1


def test_items_that_are_not_anomalies_are_refused():
    with pytest.raises(NotAnAnomaly):
        action_for(record("INSERT", {**ITEM, "sk": "X#1"}), "anomalies")


def test_failed_items_split_retryable_from_rejected_and_ignore_missing_deletes():
    actions = [action_for(record("INSERT", {**ITEM, "anomalyId": f"A{i}"}, str(i)), "a") for i in range(3)]
    actions.append(action_for(record("REMOVE", ITEM, "3"), "a"))
    response = {
        "errors": True,
        "items": [
            {"index": {"status": 201}},
            {"index": {"status": 503, "error": {"type": "unavailable"}}},
            {"index": {"status": 400, "error": {"type": "mapper_parsing_exception", "reason": "bad score"}}},
            {"delete": {"status": 404}},
        ],
    }
    retry, rejected = failed_items(actions, response)
    assert [a.sequence_number for a in retry] == ["1"]
    assert [(a.sequence_number, reason) for a, reason in rejected] == [("2", "400 mapper_parsing_exception: bad score")]
