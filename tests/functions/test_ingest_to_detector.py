"""What ingest writes is what the detector reads: POST /events -> emulated Kinesis -> detector -> Anomalies."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from anomaly_guardian.adapters.anomalies import AnomalyRepository
from anomaly_guardian.adapters.dynamodb import client
from anomaly_guardian.privacy import Pseudonymiser

EVENTS = Path(__file__).resolve().parents[1] / "events"


def kinesis_event_from_stream(stream: str) -> dict:
    """The records on every shard, shaped as the Lambda event source mapping delivers them."""
    kinesis = client("kinesis")
    desc = kinesis.describe_stream(StreamName=stream)["StreamDescription"]
    records = []
    for shard in desc["Shards"]:
        it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
        for r in kinesis.get_records(ShardIterator=it["ShardIterator"])["Records"]:
            records.append(
                {
                    "kinesis": {
                        "kinesisSchemaVersion": "1.0",
                        "partitionKey": r["PartitionKey"],
                        "sequenceNumber": r["SequenceNumber"],
                        "data": base64.b64encode(r["Data"]).decode(),
                        "approximateArrivalTimestamp": r["ApproximateArrivalTimestamp"].timestamp(),
                    },
                    "eventSource": "aws:kinesis",
                    "eventVersion": "1.0",
                    "eventID": f"{shard['ShardId']}:{r['SequenceNumber']}",
                    "eventName": "aws:kinesis:record",
                    "invokeIdentityArn": "arn:aws:iam::123456789012:role/detector",
                    "awsRegion": "us-east-1",
                    "eventSourceARN": desc["StreamARN"],
                }
            )
    return {"Records": records}


def test_posted_events_become_stored_anomalies(tables, events_stream, detector_dlq, handler_module, lambda_context):
    ingest, detector = handler_module("ingest"), handler_module("detector")
    post = json.loads((EVENTS / "apigw_post_events_batch.json").read_text())
    big = json.loads((EVENTS / "apigw_post_event.json").read_text())
    big["body"] = json.dumps(json.loads(big["body"]) | {"eventId": "evt-big", "transactionAmount": 9800.0})
    assert ingest.lambda_handler(post, lambda_context)["statusCode"] == 202
    assert ingest.lambda_handler(big, lambda_context)["statusCode"] == 202

    event = kinesis_event_from_stream(events_stream)
    assert len(event["Records"]) == 5
    assert detector.lambda_handler(event, lambda_context) == {"batchItemFailures": []}

    items, _ = AnomalyRepository("test-anomalies", token_key=b"k").query("acme", anomaly_type="value")
    hit = next(a for a in items if a["originalEvent"]["eventId"] == "evt-big")
    assert hit["tenantId"] == "acme" and hit["userId"] == Pseudonymiser().user("acme", "user-42")
    assert hit["originalEvent"]["transactionAmount"] == 9800.0
