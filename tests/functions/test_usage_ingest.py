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
    assert result == {"accepted": 2, "rejected": 1}
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
    assert usage.lambda_handler({"awslogs": {"data": data}}, lambda_context) == {"accepted": 0, "rejected": 0}
