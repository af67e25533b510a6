"""The detector Lambda (functions/detector/app.py) on real Kinesis-shaped batches against emulated AWS."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from anomaly_guardian.adapters.anomalies import AnomalyRepository
from anomaly_guardian.adapters.dynamodb import client
from anomaly_guardian.adapters.idempotency import DynamoDBEventDedupe
from anomaly_guardian.adapters.sqs import SqsDeadLetterQueue
from anomaly_guardian.detection.batch import BatchDetector
from anomaly_guardian.detection.pipeline import DetectionPipeline
from anomaly_guardian.privacy import Pseudonymiser
from anomaly_guardian.state.dynamodb import DynamoDBStateStore
from anomaly_guardian.state.store import state_key

EVENTS = Path(__file__).resolve().parents[1] / "events"


def fixture(name):
    return json.loads((EVENTS / name).read_text())


@pytest.fixture
def detector(tables, detector_dlq, handler_module):
    return handler_module("detector")


def all_anomalies(tenant):
    items, token = AnomalyRepository("test-anomalies", token_key=b"k").query(tenant, limit=1000)
    assert token is None
    return items


def dlq_messages(url):
    sqs = client("sqs")
    out = []
    while True:
        resp = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60)
        if not resp.get("Messages"):
            return out
        out.extend(json.loads(m["Body"]) for m in resp["Messages"])


def test_batch_stores_anomalies_per_tenant_and_reports_no_failures(detector, lambda_context):
    resp = detector.lambda_handler(fixture("kinesis_detector.json"), lambda_context)
    assert resp == {"batchItemFailures": []}
    acme, globex = all_anomalies("acme"), all_anomalies("globex")
    assert "evt-1002" in {a["originalEvent"]["eventId"] for a in acme if a["anomalyType"] == "value"}
    assert "evt-2001" in {a["originalEvent"]["eventId"] for a in globex if a["anomalyType"] == "value"}
    assert all(a["tenantId"] == "acme" for a in acme) and all(a["tenantId"] == "globex" for a in globex)
    # stored user ids are pseudonyms, never the raw ids of the stream
    assert not {a["userId"] for a in acme + globex} & {"user-1", "user-2", "user-9"}


def test_replaying_the_same_batch_creates_no_duplicates(detector, lambda_context):
    event = fixture("kinesis_detector.json")
    detector.lambda_handler(event, lambda_context)
    first = sorted(a["anomalyId"] for a in all_anomalies("acme") + all_anomalies("globex"))
    assert first
    assert detector.lambda_handler(event, lambda_context) == {"batchItemFailures": []}
    again = sorted(a["anomalyId"] for a in all_anomalies("acme") + all_anomalies("globex"))
    assert again == first
    done = DynamoDBEventDedupe("test-idempotency").seen(
        ["acme#evt-1001", "acme#evt-1002", "globex#evt-2002", "acme#evt-9999"]
    )
    assert done == {"acme#evt-1001": None, "acme#evt-1002": None, "globex#evt-2002": None}  # all DONE


def test_a_fresh_container_after_a_crash_before_markers_still_stores_no_duplicates(
    detector, lambda_context, handler_module
):
    # Given a batch whose anomalies were stored but whose dedupe markers were lost (crash in between)
    event = fixture("kinesis_detector.json")
    detector.lambda_handler(event, lambda_context)
    first = sorted(a["anomalyId"] for a in all_anomalies("acme"))
    client("dynamodb").delete_table(TableName="test-idempotency")
    from anomaly_guardian.adapters.dynamodb import create_tables

    create_tables(client("dynamodb"), {"IDEMPOTENCY_TABLE": "test-idempotency"})
    # When Kinesis redelivers it to a new container
    fresh = handler_module("detector")
    assert fresh.lambda_handler(event, lambda_context) == {"batchItemFailures": []}
    # Then the anomalies are overwritten by id, not duplicated
    assert sorted(a["anomalyId"] for a in all_anomalies("acme")) == first


def test_poison_records_are_kept_with_payload_and_reason_and_hold_back_nothing(detector, detector_dlq, lambda_context):
    event = fixture("kinesis_detector_poison.json")
    recs = event["Records"]
    resp = detector.lambda_handler(event, lambda_context)
    # kept in the DLQ = handled: not batch item failures, so the shard never re-reads (and never sends to the
    # on-failure destination) the records after them
    assert resp["batchItemFailures"] == []
    poison = sorted(recs[i]["kinesis"]["sequenceNumber"] for i in (1, 2, 3, 4))
    messages = {m["sequenceNumber"]: m for m in dlq_messages(detector_dlq)}
    assert sorted(messages) == poison
    for i in (1, 2, 3, 4):
        m = messages[recs[i]["kinesis"]["sequenceNumber"]]
        assert m["data"] == recs[i]["kinesis"]["data"] and m["reason"]
        assert m["eventSourceARN"] == recs[i]["eventSourceARN"]
    assert messages[recs[3]["kinesis"]["sequenceNumber"]]["reason"] == "Missing required field: event.userId"
    # the valid records were processed
    assert "evt-1002" in {a["originalEvent"]["eventId"] for a in all_anomalies("acme")}
    # a redelivery (e.g. after a crash) neither duplicates the poison in the DLQ nor processes valid records twice
    before = sorted(a["anomalyId"] for a in all_anomalies("acme") + all_anomalies("globex"))
    resp2 = detector.lambda_handler(event, lambda_context)
    assert resp2["batchItemFailures"] == []
    assert dlq_messages(detector_dlq) == []
    assert sorted(a["anomalyId"] for a in all_anomalies("acme") + all_anomalies("globex")) == before


def test_a_batch_of_only_poison_is_kept_and_does_not_raise(detector, detector_dlq, lambda_context):
    event = fixture("kinesis_detector_poison.json")
    event["Records"] = event["Records"][1:3]
    resp = detector.lambda_handler(event, lambda_context)
    assert resp["batchItemFailures"] == []
    assert len(dlq_messages(detector_dlq)) == 2


def test_emf_metrics_name_type_and_severity(detector, lambda_context, capsys):
    detector.lambda_handler(fixture("kinesis_detector.json"), lambda_context)
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    names = {m["Name"] for b in blobs for d in b["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert {"EventsProcessed", "RecordsRejected", "ProcessingLatency", "AnomalyScore", "AnomalyDetected"} <= names
    detected = [b for b in blobs if "AnomalyDetected" in b]
    assert detected and all(b["anomalyType"] and b["severity"] for b in detected)
    assert sum(sum(b["AnomalyDetected"]) for b in detected) == len(all_anomalies("acme") + all_anomalies("globex"))
    main = next(b for b in blobs if "EventsProcessed" in b)
    assert main["EventsProcessed"] == [5.0] and main["RecordsRejected"] == [0.0]


def test_logs_carry_no_raw_user_ids_or_ips(detector, detector_dlq, lambda_context, capsys):
    detector.lambda_handler(fixture("kinesis_detector_poison.json"), lambda_context)
    out = capsys.readouterr().out
    for raw in ("user-1", "user-5", "user-9", "203.0.113.10"):
        assert raw not in out


class IpCounter:
    name = "ipcount"

    def state_keys(self, pe):
        yield state_key(pe.tenant, "ipcount", pe.ip)

    def detect(self, pe, states, config):
        item = states[state_key(pe.tenant, "ipcount", pe.ip)]
        item.state["n"] = item.state.get("n", 0) + 1
        return []


def kinesis_record(seq, user, eid, ip="198.51.100.200"):
    event = {"eventId": eid, "userId": user, "timestamp": "2026-03-01T12:00:00Z", "eventType": "login", "ipAddress": ip}
    data = json.dumps({"tenantId": "acme", "receivedAt": "2026-03-01T12:00:01Z", "event": event}).encode()
    return {"kinesis": {"sequenceNumber": str(seq), "data": base64.b64encode(data).decode()}, "eventID": f"s:{seq}"}


def shard_detector():
    return BatchDetector(
        lambda s: DetectionPipeline(s, detectors=[IpCounter()], pseudonymiser=Pseudonymiser(b"k")),
        DynamoDBStateStore("test-state"),
        AnomalyRepository("test-anomalies", token_key=b"k"),
        DynamoDBEventDedupe("test-idempotency"),
        SqsDeadLetterQueue(os.environ.get("DETECTOR_DLQ_URL")),
    )


def test_two_shards_racing_on_one_ip_both_count(tables, detector_dlq):
    # Given two shards (users differ, so different shards) whose events share one IP
    shard_a, shard_b = shard_detector(), shard_detector()
    batch_a = [kinesis_record(i, f"a{i}", f"a{i}") for i in range(3)]
    batch_b = [kinesis_record(100 + i, f"b{i}", f"b{i}") for i in range(5)]
    # When shard B commits between shard A's read and shard A's write
    real_save = shard_a.store.save
    raced = []

    def save_after_b(items):
        if not raced:
            raced.append(shard_b.process(batch_b))
        return real_save(items)

    shard_a.store.save = save_after_b
    result = shard_a.process(batch_a)
    # Then A lost the race once, re-ran from a fresh read, and both shards' events count exactly once
    assert result.failed == set() and result.conflict_retries == 1
    assert raced[0].failed == set()
    key = state_key("acme", "ipcount", Pseudonymiser(b"k").ip("acme", "198.51.100.200"))
    item = DynamoDBStateStore("test-state").load([key])[key]
    assert item.state == {"n": 8} and item.version == 2


def test_new_anomalies_are_handed_to_the_response_queue_once(
    tables, detector_dlq, handler_module, lambda_context, monkeypatch
):
    url = client("sqs").create_queue(QueueName="test-response")["QueueUrl"]
    monkeypatch.setenv("RESPONSE_QUEUE_URL", url)
    detector = handler_module("detector")
    event = fixture("kinesis_detector.json")
    detector.lambda_handler(event, lambda_context)
    sent = dlq_messages(url)
    stored = {a["anomalyId"] for a in all_anomalies("acme") + all_anomalies("globex")}
    assert {m["anomaly"]["anomalyId"] for m in sent} == stored
    big = next(
        m
        for m in sent
        if m["anomaly"]["originalEvent"]["eventId"] == "evt-1002" and m["anomaly"]["anomalyType"] == "value"
    )
    assert big["subjectIp"] == "203.0.113.10"  # raw IP only on the encrypted queue, for the WAF action
    # a replay hands nothing over again
    detector.lambda_handler(event, lambda_context)
    assert dlq_messages(url) == []


class FailingBatchWrite:
    """The real client, except BatchWriteItem on one table raises `times` times (throttling that outlasted retries)."""

    def __init__(self, real, table, times=1):
        self.real, self.table, self.times = real, table, times

    def batch_write_item(self, RequestItems):
        if self.table in RequestItems and self.times > 0:
            self.times -= 1
            raise RuntimeError("ProvisionedThroughputExceededException")
        return self.real.batch_write_item(RequestItems=RequestItems)

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_failed_anomaly_write_is_retried_without_updating_state_twice(detector, lambda_context):
    # Given the Anomalies table refuses the first write
    detector.detector.anomalies._ddb = FailingBatchWrite(client("dynamodb"), "test-anomalies")
    event = fixture("kinesis_detector.json")
    # When the batch runs, the first tenant group with anomalies fails and is reported
    resp = detector.lambda_handler(event, lambda_context)
    failed = {f["itemIdentifier"] for f in resp["batchItemFailures"]}
    assert failed
    state_after_first = {
        i["pk"]["S"]: int(i["version"]["N"])
        for i in client("dynamodb").scan(TableName="test-state")["Items"]
        if "#cal#" not in i["pk"]["S"]  # calibration histograms: counts added per batch, not versioned state
    }
    assert state_after_first  # the default detectors keep per-user/per-IP state
    # And Kinesis redelivers the batch
    resp = detector.lambda_handler(event, lambda_context)
    assert resp == {"batchItemFailures": []}
    # Then the anomalies are stored once and no state item was written a second time
    assert "evt-1002" in {a["originalEvent"]["eventId"] for a in all_anomalies("acme")}
    assert "evt-2001" in {a["originalEvent"]["eventId"] for a in all_anomalies("globex")}
    state_after_retry = {
        i["pk"]["S"]: int(i["version"]["N"])
        for i in client("dynamodb").scan(TableName="test-state")["Items"]
        if "#cal#" not in i["pk"]["S"]  # calibration histograms: counts added per batch, not versioned state
    }
    assert state_after_retry == state_after_first
    assert set(DynamoDBEventDedupe("test-idempotency").seen(["acme#evt-1002", "globex#evt-2001"]).values()) == {None}


def test_per_tenant_hourly_counters_count_each_event_once(detector, lambda_context):
    from datetime import UTC, datetime, timedelta

    from anomaly_guardian.adapters.counters import TenantCounters

    event = fixture("kinesis_detector.json")
    per_tenant: dict[str, int] = {}
    for r in event["Records"]:
        try:
            body = json.loads(base64.b64decode(r["kinesis"]["data"]))
            per_tenant[body["tenantId"]] = per_tenant.get(body["tenantId"], 0) + 1
        except (ValueError, KeyError):
            continue  # poison records are not events
    detector.lambda_handler(event, lambda_context)
    detector.lambda_handler(event, lambda_context)  # redelivered: the dedupe skips it, so no recount
    now = datetime.now(UTC)
    counters = TenantCounters("test-audit")
    span = (now - timedelta(hours=2), now + timedelta(hours=1))
    assert counters.active_tenants(*span) == sorted(per_tenant)
    for tenant, n in per_tenant.items():
        totals = counters.totals([tenant], *span)
        assert totals["events"] == n, tenant
        assert totals["anomalies"] == len(all_anomalies(tenant)), tenant
