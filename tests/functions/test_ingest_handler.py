"""The ingest Lambda (functions/ingest/app.py) with its fixtures against emulated Kinesis + DynamoDB."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import pytest

from anomaly_guardian.adapters.dynamodb import client

EVENTS = Path(__file__).resolve().parents[1] / "events"


def fixture(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def stream_records(stream: str) -> list[dict]:
    kinesis = client("kinesis")
    out = []
    for shard in kinesis.describe_stream(StreamName=stream)["StreamDescription"]["Shards"]:
        it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
        resp = kinesis.get_records(ShardIterator=it["ShardIterator"], Limit=10_000)
        out.extend({"data": json.loads(r["Data"]), "key": r["PartitionKey"]} for r in resp["Records"])
    return out


@pytest.fixture
def ingest(tables, events_stream, handler_module):
    return handler_module("ingest")


def invoke(module, event, lambda_context):
    resp = module.lambda_handler(event, lambda_context)
    return resp["statusCode"], json.loads(resp["body"])


def test_single_event_lands_in_the_stream_with_the_tenant_from_the_authorizer(ingest, events_stream, lambda_context):
    event = fixture("apigw_post_event.json")
    status, body = invoke(ingest, event, lambda_context)
    assert status == 202, body
    assert body["status"] == "success" and body["message"] == "Event received" and body["eventId"] == "evt-0001"
    (rec,) = stream_records(events_stream)
    assert rec["key"] == "acme#user-42"
    assert rec["data"]["tenantId"] == "acme" and rec["data"]["receivedAt"] == body["timestamp"]
    assert rec["data"]["event"] == json.loads(event["body"])


def test_batch_lands_every_event_once(ingest, events_stream, lambda_context):
    status, body = invoke(ingest, fixture("apigw_post_events_batch.json"), lambda_context)
    assert status == 202 and body["accepted"] == 4
    recs = stream_records(events_stream)
    assert sorted(r["data"]["event"]["eventId"] for r in recs) == body["eventIds"]
    assert "acme#checkout#latency_p99_ms" in {r["key"] for r in recs}


def test_invalid_batch_is_400_naming_the_index_and_writes_nothing(ingest, events_stream, lambda_context):
    status, body = invoke(ingest, fixture("apigw_post_events_invalid.json"), lambda_context)
    assert status == 400
    assert body == {
        "status": "error",
        "code": "INVALID_PAYLOAD",
        "message": "events[3]: Missing required field: userId",
    }
    assert stream_records(events_stream) == []


def test_wrong_content_type_is_415_and_writes_nothing(ingest, events_stream, lambda_context):
    status, body = invoke(ingest, fixture("apigw_post_event_wrong_content_type.json"), lambda_context)
    assert status == 415 and body["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert stream_records(events_stream) == []


def test_oversized_body_is_413_and_writes_nothing(ingest, events_stream, lambda_context):
    event = fixture("apigw_post_event.json")
    payload = json.loads(event["body"]) | {"metadata": {"pad": "x" * 1_100_000}}
    event["body"] = json.dumps(payload)
    status, body = invoke(ingest, event, lambda_context)
    assert status == 413 and body["code"] == "PAYLOAD_TOO_LARGE"
    assert stream_records(events_stream) == []


def test_body_tenant_is_never_used(ingest, events_stream, lambda_context):
    event = fixture("apigw_post_event.json")
    event["body"] = json.dumps(json.loads(event["body"]) | {"tenantId": "globex"})
    status, body = invoke(ingest, event, lambda_context)
    assert status == 400 and "tenantId" in body["message"]
    assert stream_records(events_stream) == []


def test_missing_tenant_in_identity_is_401(ingest, events_stream, lambda_context):
    event = fixture("apigw_post_event.json")
    event["requestContext"]["authorizer"] = {}
    status, body = invoke(ingest, event, lambda_context)
    assert status == 401 and body["code"] == "UNAUTHORIZED"
    assert stream_records(events_stream) == []


def block(sk: str, ttl: int | None = None, tenant: str = "acme"):
    item = {"pk": {"S": f"T#{tenant}"}, "sk": {"S": sk}, "reason": {"S": "rate_limit"}}
    if ttl is not None:
        item["ttl"] = {"N": str(ttl)}
    client("dynamodb").put_item(TableName="test-blocklist", Item=item)


def test_blocked_source_ip_is_403_and_writes_nothing(ingest, events_stream, lambda_context):
    block("IP#198.51.100.23", ttl=int(time.time()) + 3600)
    status, body = invoke(ingest, fixture("apigw_post_event.json"), lambda_context)
    assert status == 403 and body["code"] == "SOURCE_BLOCKED"
    assert stream_records(events_stream) == []


def test_blocked_event_ip_is_403_but_expired_blocks_and_other_tenants_do_not_count(
    ingest, events_stream, lambda_context
):
    block("IP#203.0.113.10", ttl=int(time.time()) + 3600)
    status, body = invoke(ingest, fixture("apigw_post_events_batch.json"), lambda_context)
    assert status == 403 and body["code"] == "EVENT_BLOCKED" and body["message"].startswith("events[0]")
    assert stream_records(events_stream) == []
    block("IP#203.0.113.10", ttl=int(time.time()) - 10)  # expired, not yet swept by TTL
    block("IP#198.51.100.23", tenant="globex")
    status, _ = invoke(ingest, fixture("apigw_post_events_batch.json"), lambda_context)
    assert status == 202


def test_blocked_user_pseudonym_is_403(ingest, events_stream, lambda_context):
    from anomaly_guardian.privacy import Pseudonymiser

    block(f"USER#{Pseudonymiser().user('acme', 'user-42')}")
    status, body = invoke(ingest, fixture("apigw_post_event.json"), lambda_context)
    assert status == 403 and body["code"] == "EVENT_BLOCKED"


class FlakyKinesis:
    """Wraps the real (emulated) client: named eventIds fail `times` times, only the others are forwarded."""

    def __init__(self, real, fail: set[str], times: int):
        self.real, self.remaining = real, {f: times for f in fail}
        self.calls = []

    def put_records(self, StreamName, Records):
        self.calls.append(len(Records))
        results, forward, slots = [], [], []
        for rec in Records:
            eid = json.loads(rec["Data"])["event"]["eventId"]
            if self.remaining.get(eid, 0) > 0:
                self.remaining[eid] -= 1
                results.append({"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "slow down"})
            else:
                slots.append(len(results))
                results.append(None)
                forward.append(rec)
        if forward:
            real = self.real.put_records(StreamName=StreamName, Records=forward)["Records"]
            for slot, r in zip(slots, real, strict=True):
                results[slot] = r
        return {"FailedRecordCount": sum("ErrorCode" in r for r in results), "Records": results}


def test_partial_put_failure_is_retried_and_every_event_lands_once(ingest, events_stream, lambda_context):
    flaky = FlakyKinesis(client("kinesis"), {"evt-0102", "evt-0104"}, times=2)
    ingest.service.sink._kinesis = flaky
    ingest.service.sleep = lambda _s: None
    status, body = invoke(ingest, fixture("apigw_post_events_batch.json"), lambda_context)
    assert status == 202 and body["accepted"] == 4
    assert flaky.calls == [4, 2, 2]
    ids = sorted(r["data"]["event"]["eventId"] for r in stream_records(events_stream))
    assert ids == ["evt-0101", "evt-0102", "evt-0103", "evt-0104"]


def test_records_that_never_land_are_503_and_not_claimed(ingest, events_stream, lambda_context):
    ingest.service.sink._kinesis = FlakyKinesis(client("kinesis"), {"evt-0103"}, times=100)
    ingest.service.sleep = lambda _s: None
    status, body = invoke(ingest, fixture("apigw_post_events_batch.json"), lambda_context)
    assert status == 503 and body["notAccepted"] == ["evt-0103"]
    ids = sorted(r["data"]["event"]["eventId"] for r in stream_records(events_stream))
    assert ids == sorted(body["acceptedEventIds"]) == ["evt-0101", "evt-0102", "evt-0104"]


def test_iam_principal_mapping_gives_the_tenant(tables, events_stream, lambda_context, monkeypatch, handler_module):
    monkeypatch.setenv("IAM_TENANT_MAP", json.dumps({"arn:aws:iam::123456789012:role/producer": "globex"}))
    module = handler_module("ingest")
    event = copy.deepcopy(fixture("apigw_post_event.json"))
    event["requestContext"]["authorizer"] = None
    event["requestContext"]["identity"]["userArn"] = "arn:aws:iam::123456789012:role/producer"
    status, _ = invoke(module, event, lambda_context)
    assert status == 202
    assert stream_records(events_stream)[0]["data"]["tenantId"] == "globex"


def test_a_reused_event_id_with_another_payload_is_reported_and_kept_off_the_stream(
    ingest, events_stream, lambda_context
):
    # Given an accepted event
    first = fixture("apigw_post_event.json")
    assert invoke(ingest, first, lambda_context)[0] == 202

    # When the same eventId comes again with a different payload, and the first one is retried as it was
    changed = copy.deepcopy(first)
    changed["body"] = json.dumps(json.loads(first["body"]) | {"transactionAmount": 4321.0})
    status, body = invoke(ingest, changed, lambda_context)
    retry_status, retry = invoke(ingest, copy.deepcopy(first), lambda_context)

    # Then the different one is named in `duplicates` and not sent; the retry is accepted and not sent again
    assert status == 202 and body["accepted"] == 0
    assert [(d["eventId"], d["reason"]) for d in body["duplicates"]] == [("evt-0001", "DIFFERENT_PAYLOAD")]
    assert retry_status == 202 and retry["accepted"] == 1 and retry["duplicates"] == []
    (rec,) = stream_records(events_stream)
    assert rec["data"]["event"] == json.loads(first["body"])
    # and the receipt is in the idempotency table, under the ingest prefix, with the dedupe TTL
    item = client("dynamodb").get_item(TableName="test-idempotency", Key={"id": {"S": "_ingest#acme#evt-0001"}})
    expires_in = int(item["Item"]["expiration"]["N"]) - time.time()
    assert 167 * 3600 < expires_in <= 168 * 3600 and len(item["Item"]["payload"]["S"]) == 32


def test_a_batch_retried_after_a_503_sends_only_what_had_not_landed(ingest, events_stream, lambda_context):
    ingest.service.sink._kinesis = FlakyKinesis(client("kinesis"), {"evt-0103"}, times=100)
    ingest.service.sleep = lambda _s: None
    status, _ = invoke(ingest, fixture("apigw_post_events_batch.json"), lambda_context)
    assert status == 503
    ingest.service.sink._kinesis = client("kinesis")

    status, body = invoke(ingest, fixture("apigw_post_events_batch.json"), lambda_context)

    assert status == 202 and body["accepted"] == 4 and body["duplicates"] == []
    ids = sorted(r["data"]["event"]["eventId"] for r in stream_records(events_stream))
    assert ids == ["evt-0101", "evt-0102", "evt-0103", "evt-0104"]  # each exactly once
