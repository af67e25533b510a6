"""DynamoDB capacity units per 1,000 events through the real detector handler (functions/detector/app.py)
on emulated AWS (moto), priced from item sizes by tests/bench/ddb_units.py (moto reports items, not units).

Streams: the labelled generator's events (seed 11) with user ids (and their IPs and devices) re-drawn from a
population of U users, in Kinesis batches of 1,000 records (two tenants), through the handler as Lambda
calls it: dedupe markers, state BatchGetItem + TransactWriteItems, anomalies, calibration histograms, tenant
counters, rule/config reads (cached). One warm-up batch, then BENCH_STATE_BATCHES batches (default 2) measured.

10M users: not replayed (moto keeps every item in memory). At 100k users a 1,000-record batch already holds
almost no user twice (expected repeats ~ 1000^2 / (2 * 100k) = 5), so each event pays for its own user's
state; with 10M users the repeats fall to ~0.05 per batch and the per-event units are the 100k figure
(the table's size changes storage, not units per request). The 10M row is that extrapolation, labelled.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import os
import sys
import zlib
from contextlib import redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
BATCH = 1000
BATCHES = int(os.environ.get("BENCH_STATE_BATCHES", "2"))
TABLES = {
    "STATE_TABLE": "bench-state",
    "ANOMALIES_TABLE": "bench-anomalies",
    "CONFIG_TABLE": "bench-config",
    "INCIDENTS_TABLE": "bench-incidents",
    "AUDIT_TABLE": "bench-audit",
    "BLOCKLIST_TABLE": "bench-blocklist",
    "IDEMPOTENCY_TABLE": "bench-idempotency",
}


def remap(events: list[dict], users: int) -> list[dict]:
    """Each (user, session) of the generated stream becomes one of `users` people; system metrics stay."""
    out = []
    for e in events:
        if e.get("userId") in (None, "system"):
            out.append(e)
            continue
        u = zlib.crc32(f"{e['userId']}/{e.get('sessionId', '')}".encode()) % users
        e = dict(e, userId=f"user-{u:08d}")
        if "ipAddress" in e:
            e["ipAddress"] = f"10.{u >> 16 & 255}.{u >> 8 & 255}.{u & 255}"
        if "deviceId" in e:
            e["deviceId"] = f"dev-{u}"
        out.append(e)
    return out


def batches(events: list[dict]) -> list[dict]:
    from anomaly_guardian.ingest.envelope import encode_record, partition_key

    out = []
    for b in range(len(events) // BATCH):
        records = []
        for i, event in enumerate(events[b * BATCH : (b + 1) * BATCH]):
            tenant = "acme" if zlib.crc32(event["userId"].encode()) % 3 else "globex"
            seq = f"{49620000000000000000000000000000000000000000000000000000 + b * BATCH + i}"
            records.append(
                {
                    "kinesis": {
                        "partitionKey": partition_key(tenant, event),
                        "sequenceNumber": seq,
                        "data": base64.b64encode(encode_record(tenant, event, "2026-03-01T12:00:05.000Z")).decode(),
                        "approximateArrivalTimestamp": 1772366405.0,
                    },
                    "eventSource": "aws:kinesis",
                    "eventID": f"shardId-000000000000:{seq}",
                    "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/events",
                }
            )
        out.append({"Records": records})
    return out


def measure(users: int, events: list[dict]) -> dict:
    import boto3
    from ddb_units import CapacityMeter
    from moto import mock_aws

    with mock_aws():
        from anomaly_guardian.adapters.dynamodb import client, create_tables, reset_clients

        reset_clients()
        boto3.setup_default_session()
        meter = CapacityMeter()
        meter.install(boto3.DEFAULT_SESSION._session, boto3.session.Session().client("dynamodb"))
        create_tables(client("dynamodb"), TABLES)
        os.environ["DETECTOR_DLQ_URL"] = client("sqs").create_queue(QueueName="bench-dlq")["QueueUrl"]
        spec = importlib.util.spec_from_file_location("bench_detector_app", ROOT / "functions/detector/app.py")
        app = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(app)
        from tests_context import LambdaContext

        work = batches(remap(events, users))
        for n, event in enumerate(work):
            if n == 1:
                meter.reset()  # batch 0 is the warm-up (cold caches, empty tables)
            with redirect_stdout(io.StringIO()):
                resp = app.lambda_handler(event, LambdaContext())
            assert resp == {"batchItemFailures": []}, resp
        measured = (len(work) - 1) * BATCH
        return {
            "rcu": meter.rcu * 1000 / measured,
            "wcu": meter.wcu * 1000 / measured,
            "writes": meter.items_written * 1000 / measured,
            "calls": {k: v * 1000 / measured for k, v in sorted(meter.calls.items())},
            "wcu_by_table": {
                k.removeprefix("bench-"): v * 1000 / measured for k, v in meter.wcu_by_table.most_common()
            },
        }


def main() -> None:
    from anomaly_guardian.scenario.generator import generate

    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_SESSION_TOKEN": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "ENVIRONMENT": "test",
            "POWERTOOLS_SERVICE_NAME": "bench",
            "POWERTOOLS_METRICS_NAMESPACE": "AnomalyGuardianBench",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "EVENTS_STREAM_NAME": "bench-events",
            **TABLES,
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    events = generate(BATCH * (BATCHES + 1) + 500, seed=11).events
    rows = {}
    for users in (1_000, 100_000):
        rows[users] = r = measure(users, events)
        print(
            f"   {users:>10,} users: {r['rcu']:8,.0f} RCU  {r['wcu']:8,.0f} WCU  {r['writes']:7,.0f} items written "
            f"per 1,000 events  (calls per 1,000: " + ", ".join(f"{k} {v:.0f}" for k, v in r["calls"].items()) + ")"
        )
        print("      WCU by table: " + ", ".join(f"{k} {v:,.0f}" for k, v in r["wcu_by_table"].items()))
    r = rows[100_000]
    print(
        f"   {10_000_000:>10,} users: {r['rcu']:8,.0f} RCU  {r['wcu']:8,.0f} WCU  (extrapolated from 100k: "
        "a 1,000-record batch already repeats almost no user; see this module's docstring)"
    )


if __name__ == "__main__":
    main()
