"""The usage-ingest Lambda with its CloudWatch Logs fixture against emulated Kinesis."""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from anomaly_guardian.adapters.dynamodb import client
from anomaly_guardian.models.event import parse_event


def stream_records(stream: str) -> list[dict]:
    kinesis = client("kinesis")
    out = []
    for shard in kinesis.describe_stream(StreamName=stream)["StreamDescription"]["Shards"]:
        it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
        out += [json.loads(r["Data"]) for r in kinesis.get_records(ShardIterator=it["ShardIterator"])["Records"]]
    return out


@pytest.fixture
def usage(monkeypatch, events_stream, handler_module):
    monkeypatch.setenv("USAGE_TENANT_ID", "acme")
    return handler_module("usage_ingest")


def test_cloudtrail_records_reach_the_stream_as_contract_events(usage, events_stream, event_fixture, lambda_context):
    # Given a subscription batch with two CloudTrail records and one line that is not a record
    event = event_fixture("cloudwatch_logs_cloudtrail.json")
    # When the handler runs
    result = usage.lambda_handler(event, lambda_context)
    # Then both records are on the stream for the configured tenant, and the bad line is reported
    assert result == {"accepted": 2, "rejected": 1, "indexed": 0}  # no OpenSearch configured here
    records = stream_records(events_stream)
    assert {r["tenantId"] for r in records} == {"acme"}
    by_api = {r["event"]["metadata"]["api"]: r["event"] for r in records}
    assert set(by_api) == {"lambda:Invoke:orders-worker", "ec2:RunInstances:p4d"}
    launch = by_api["ec2:RunInstances:p4d"]
    assert launch["metadata"]["gpu"] is True and launch["metadata"]["count"] == 4
    assert launch["ipAddress"] == "203.0.113.9"
    assert "ipAddress" not in by_api["lambda:Invoke:orders-worker"]  # a service hostname is not an IP
    for r in records:  # what the detector will read passes the same contract validation
        parse_event(r["event"])


def test_payload_that_is_not_a_subscription_fails_loudly(usage, lambda_context):
    from anomaly_guardian.usage.cloudtrail import MalformedLogsEvent

    with pytest.raises(MalformedLogsEvent, match=r"missing awslogs\.data"):
        usage.lambda_handler({"Records": []}, lambda_context)
    bad = {"awslogs": {"data": base64.b64encode(b"not gzip").decode()}}
    with pytest.raises(MalformedLogsEvent, match="not base64 gzip"):
        usage.lambda_handler(bad, lambda_context)


def test_kinesis_refusing_records_fails_the_invocation(usage, event_fixture, lambda_context, monkeypatch):
    from anomaly_guardian.usage.service import UsageDeliveryError

    monkeypatch.setattr(usage.service, "sleep", lambda _s: None)
    monkeypatch.setattr(usage.service.sink, "put", lambda entries: ["InternalFailure"] * len(entries))
    with pytest.raises(UsageDeliveryError, match="2 of 2"):
        usage.lambda_handler(event_fixture("cloudwatch_logs_cloudtrail.json"), lambda_context)


def test_control_messages_are_ignored(usage, lambda_context):
    payload = {"messageType": "CONTROL_MESSAGE", "logEvents": [{"id": "1", "message": "CWL CONTROL MESSAGE"}]}
    data = base64.b64encode(gzip.compress(json.dumps(payload).encode())).decode()
    assert usage.lambda_handler({"awslogs": {"data": data}}, lambda_context) == {
        "accepted": 0,
        "rejected": 0,
        "indexed": 0,
    }


@pytest.fixture
def trail_search(monkeypatch):
    from anomaly_guardian.local.opensearch import FakeOpenSearch

    # moto's mock sets its own dummy credentials (FOOBARKEY): the fake checks signatures with them
    fake = FakeOpenSearch(credentials={"FOOBARKEY": "FOOBARSECRET", "testing": "testing"})
    fake.serve("127.0.0.1", 0)
    monkeypatch.setenv("OPENSEARCH_ENDPOINT", fake.url)
    yield fake
    fake.shutdown()


def test_records_also_land_in_the_daily_trail_index(
    trail_search, monkeypatch, events_stream, handler_module, event_fixture, lambda_context
):
    # Given OpenSearch configured for the usage-ingest function
    monkeypatch.setenv("USAGE_TENANT_ID", "acme")
    usage = handler_module("usage_ingest")
    # When a subscription batch arrives (twice: Lambda retries whole batches)
    event = event_fixture("cloudwatch_logs_cloudtrail.json")
    assert usage.lambda_handler(event, lambda_context)["indexed"] == 2
    assert usage.lambda_handler(event, lambda_context)["indexed"] == 2
    # Then each record is one document of its day's index, under its eventID (a retry overwrites),
    # signed with SigV4 (the fake refuses unsigned requests), with the fields the AD detectors read
    docs = {
        i: d for name, idx in trail_search.indices.items() if name.startswith("cloudtrail-") for i, d in idx.items()
    }
    assert len(docs) == 2
    names = {n for n in trail_search.indices if n.startswith("cloudtrail-")}
    assert all(len(n) == len("cloudtrail-2026.01.01") for n in names)
    launch = next(d for d in docs.values() if d["eventName"] == "RunInstances")
    assert launch["guardian"]["count"] == 4 and launch["guardian"]["gpu"] is True
    assert launch["guardian"]["instanceFamily"] == "p4d"
    invoke = next(d for d in docs.values() if d["eventName"] == "Invoke")
    assert invoke["guardian"]["resource"] == "orders-worker"
    assert trail_search.stats()["denied"] == 0
    assert len(stream_records(events_stream)) == 4  # the stream got both deliveries (the detector dedupes)


def test_opensearch_throttling_fails_the_invocation_for_a_retry(
    trail_search, monkeypatch, events_stream, handler_module, event_fixture, lambda_context
):
    from anomaly_guardian.usage.service import UsageDeliveryError

    monkeypatch.setenv("USAGE_TENANT_ID", "acme")
    trail_search.route("POST", r"/_bulk", lambda req: (429, {"error": "too many requests"}))
    usage = handler_module("usage_ingest")
    with pytest.raises(UsageDeliveryError, match="trail indexing failed"):
        usage.lambda_handler(event_fixture("cloudwatch_logs_cloudtrail.json"), lambda_context)
