"""The search indexer against emulated AWS: the Anomalies table's real stream (moto) into a
loopback OpenSearch `_bulk` endpoint that checks SigV4 signing, with per-item throttling."""

from __future__ import annotations

import json
import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest

from anomaly_guardian.adapters.dynamodb import client
from anomaly_guardian.models.anomaly import Anomaly


class FakeOpenSearch(BaseHTTPRequestHandler):
    docs: dict[str, dict] = {}
    templates: dict[str, dict] = {}
    throttle_ids: set[str] = set()
    auth_headers: list[str] = []

    def log_message(self, *args):  # keep test output quiet
        pass

    def _reply(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.auth_headers.append(self.headers.get("Authorization", ""))
        self.templates[self.path] = json.loads(body)
        self._reply(200, {"acknowledged": True})

    def do_POST(self):
        assert self.path == "/_bulk"
        self.auth_headers.append(self.headers.get("Authorization", ""))
        lines = self.rfile.read(int(self.headers["Content-Length"])).decode().splitlines()
        items, i = [], 0
        while i < len(lines):
            meta = json.loads(lines[i])
            op, target = next(iter(meta.items()))
            doc_id = target["_id"]
            if op == "index":
                doc = json.loads(lines[i + 1])
                i += 2
                if doc_id in self.throttle_ids:
                    items.append({op: {"_id": doc_id, "status": 429, "error": {"type": "es_rejected_execution"}}})
                    continue
                self.docs[doc_id] = {"index": target["_index"], **doc}
                items.append({op: {"_id": doc_id, "status": 201}})
            else:
                i += 1
                found = self.docs.pop(doc_id, None)
                items.append({op: {"_id": doc_id, "status": 200 if found else 404}})
        self._reply(
            200, {"took": 1, "errors": any(next(iter(x.values()))["status"] >= 300 for x in items), "items": items}
        )


@pytest.fixture
def opensearch(monkeypatch):
    FakeOpenSearch.docs, FakeOpenSearch.templates = {}, {}
    FakeOpenSearch.throttle_ids, FakeOpenSearch.auth_headers = set(), []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenSearch)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("OPENSEARCH_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    yield FakeOpenSearch
    server.shutdown()


@pytest.fixture
def indexer(tables, opensearch, handler_module):
    client("dynamodb").update_table(
        TableName=os.environ["ANOMALIES_TABLE"],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return handler_module("search_indexer")


def stream_event() -> dict:
    """Everything on the table's stream, shaped as Lambda's DynamoDB event source delivers it."""
    ddb = client("dynamodb")
    # botocore's newer endpoint rules resolve a host moto does not route; the classic one it does.
    streams = boto3.client("dynamodbstreams", endpoint_url="https://streams.dynamodb.us-east-1.amazonaws.com")
    arn = ddb.describe_table(TableName=os.environ["ANOMALIES_TABLE"])["Table"]["LatestStreamArn"]
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
        for r in streams.get_records(ShardIterator=it["ShardIterator"])["Records"]:
            records.append({**r, "eventSourceARN": arn, "dynamodb": {**r["dynamodb"]}})
    return {"Records": records}


def anomaly(tenant: str, user: str, when: str, event_id: str) -> Anomaly:
    return Anomaly(
        tenantId=tenant,
        severity="HIGH",
        anomalyScore=0.8,
        userId=user,
        anomalyType="value",
        description="Transaction amount 9000.00 above the absolute limit 5000.00",
        detectedAt=when,
        originalEvent={"eventId": event_id, "timestamp": when, "eventType": "transaction", "transactionAmount": 9000},
    )


def test_new_anomalies_are_indexed_signed_and_erasure_removes_them(indexer, opensearch, lambda_context):
    from anomaly_guardian.adapters.anomalies import AnomalyRepository

    # Given two tenants' anomalies written through the repository (the table's stream records them)
    repo = AnomalyRepository("test-anomalies")
    repo.put_many(
        [
            anomaly("acme", "u_alice", "2026-11-20T10:00:00.000Z", "e1"),
            anomaly("globex", "u_bob", "2026-10-02T08:00:00.000Z", "e2"),
        ]
    )
    # When the indexer gets the stream batch
    result = indexer.lambda_handler(stream_event(), lambda_context)
    # Then both are in OpenSearch, in monthly indexes, keyed by tenant, with SigV4 on every request
    assert result == {"batchItemFailures": []}
    by_tenant = {d["tenantId"]: d for d in opensearch.docs.values()}
    assert by_tenant["acme"]["index"] == "anomalies-2026.11" and by_tenant["globex"]["index"] == "anomalies-2026.10"
    assert by_tenant["acme"]["originalEvent"]["eventId"] == "e1"
    assert all(doc_id.startswith(f"{d['tenantId']}:") for doc_id, d in opensearch.docs.items())
    assert opensearch.templates["/_index_template/anomalies-template"]["index_patterns"] == ["anomalies-*"]
    signed = re.compile(
        r"^AWS4-HMAC-SHA256 Credential=\w+/\d{8}/us-east-1/es/aws4_request, SignedHeaders=\S+, Signature=[0-9a-f]{64}$"
    )
    assert opensearch.auth_headers and all(signed.match(h) for h in opensearch.auth_headers)
    # When alice's data is erased and the stream delivers the REMOVE
    repo.delete_user("acme", "u_alice")
    indexer.lambda_handler(stream_event(), lambda_context)
    # Then her document is gone from the index too, and bob's is untouched
    assert {d["tenantId"] for d in opensearch.docs.values()} == {"globex"}


def test_throttled_documents_are_reported_for_retry_and_the_rest_indexed(indexer, opensearch, lambda_context):
    from anomaly_guardian.adapters.anomalies import AnomalyRepository

    items = [anomaly("acme", f"u_{i}", f"2026-11-20T10:00:0{i}.000Z", f"e{i}") for i in range(3)]
    AnomalyRepository("test-anomalies").put_many(items)
    opensearch.throttle_ids = {f"acme:{items[1].anomalyId}"}
    event = stream_event()
    result = indexer.lambda_handler(event, lambda_context)
    seq_of = {r["dynamodb"]["NewImage"]["anomalyId"]["S"]: r["dynamodb"]["SequenceNumber"] for r in event["Records"]}
    assert result == {"batchItemFailures": [{"itemIdentifier": seq_of[items[1].anomalyId]}]}
    assert len(opensearch.docs) == 2
    # Lambda retries from the failed record: once OpenSearch recovers, it lands (ids make it idempotent)
    opensearch.throttle_ids = set()
    assert indexer.lambda_handler(event, lambda_context) == {"batchItemFailures": []}
    assert len(opensearch.docs) == 3


def test_sam_local_fixture_is_indexed(indexer, opensearch, event_fixture, lambda_context):
    result = indexer.lambda_handler(event_fixture("dynamodb_stream_anomalies.json"), lambda_context)
    assert result == {"batchItemFailures": []}
    assert len(opensearch.docs) == 1
