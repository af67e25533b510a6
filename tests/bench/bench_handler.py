"""Detector Lambda throughput and cold-start import time, on one core.

Throughput: the handler's logic on real Kinesis-shaped batches of 1,000 records (base64 envelopes
built by ingest's own encoder from the labelled generator's stream, two tenants): decode + validate,
dedupe, the full default detector pipeline once per tenant, deterministic anomaly ids, EMF metrics
and Powertools' partial-batch response. What is *not* in the figure: AWS round trips. State,
anomalies, dedupe markers and the DLQ are in memory, so this is the CPU ceiling of one Lambda
invocation; in AWS each batch adds roughly one BatchGetItem per 100 state keys and per 100 events,
one conditional PutItem per changed key (16 in flight), and one BatchWriteItem per 25 anomalies/markers.
Measured as process CPU time (the machine is shared; wall time is printed too), median of 10 warm
batches after one warm-up batch.

Cold start: importing functions/{detector,ingest}/app.py in a fresh interpreter, CPU time (Powertools Logger/Metrics,
pydantic models, detectors, the wired adapters; interpreter start-up not included), median of 7; and the same
plus building the first DynamoDB client (boto3/botocore), which the first AWS call of a cold start pays.
Target (issue 16): the import <= 0.5 s.
"""

from __future__ import annotations

import base64
import io
import os
import statistics
import subprocess
import sys
import time
import zlib
from contextlib import redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BATCH = 1000
BATCHES = 10


def kinesis_batches(n_batches: int) -> list[dict]:
    from anomaly_guardian.ingest.envelope import encode_record, partition_key
    from anomaly_guardian.scenario.generator import generate

    events = generate(BATCH * (n_batches + 1), seed=11).events
    batches = []
    for b in range(n_batches + 1):
        records = []
        for i, event in enumerate(events[b * BATCH : (b + 1) * BATCH]):
            tenant = "acme" if zlib.crc32(event["userId"].encode()) % 3 else "globex"
            data = encode_record(tenant, event, "2026-03-01T12:00:05.000Z")
            seq = f"{49620000000000000000000000000000000000000000000000000000 + b * BATCH + i}"
            records.append(
                {
                    "kinesis": {
                        "kinesisSchemaVersion": "1.0",
                        "partitionKey": partition_key(tenant, event),
                        "sequenceNumber": seq,
                        "data": base64.b64encode(data).decode(),
                        "approximateArrivalTimestamp": 1772366405.0,
                    },
                    "eventSource": "aws:kinesis",
                    "eventVersion": "1.0",
                    "eventID": f"shardId-000000000000:{seq}",
                    "eventName": "aws:kinesis:record",
                    "invokeIdentityArn": "arn:aws:iam::123456789012:role/detector",
                    "awsRegion": "us-east-1",
                    "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/events",
                }
            )
        batches.append({"Records": records})
    return batches


def throughput() -> None:
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "AnomalyGuardianBench")
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "bench")
    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

    from anomaly_guardian.detection.batch import (
        BatchDetector,
        InMemoryAnomalySink,
        InMemoryDedupe,
        ListPoisonSink,
        handle_kinesis_event,
    )
    from anomaly_guardian.detection.pipeline import DetectionPipeline
    from anomaly_guardian.state.store import InMemoryStateStore

    sink = InMemoryAnomalySink()
    detector = BatchDetector(
        lambda store: DetectionPipeline(store), InMemoryStateStore(), sink, InMemoryDedupe(), ListPoisonSink()
    )
    processor = BatchProcessor(event_type=EventType.KinesisDataStreams, raise_on_entire_batch_failure=False)
    metrics = Metrics()
    batches = kinesis_batches(BATCHES)
    cpu, wall = [], []
    for n, event in enumerate(batches):
        with redirect_stdout(io.StringIO()):
            c0, w0 = time.process_time(), time.perf_counter()
            resp = handle_kinesis_event(event, None, detector, processor, metrics)
            metrics.flush_metrics()
            c1, w1 = time.process_time(), time.perf_counter()
        assert resp == {"batchItemFailures": []}, resp
        if n:  # first batch is the warm-up (lazy imports, caches)
            cpu.append(c1 - c0)
            wall.append(w1 - w0)
    rate = BATCH / statistics.median(cpu)
    print(
        f"   detector handler logic: {rate:,.0f} events per CPU second, one core "
        f"(median of {len(cpu)} batches of {BATCH} Kinesis records; {statistics.median(cpu) * 1000:.0f} ms CPU, "
        f"{statistics.median(wall) * 1000:.0f} ms wall per batch; {len(sink.items)} anomalies; in-memory state/sinks)"
    )


def ingest_throughput() -> None:
    """POST /events logic for 500-event bodies: content type, size, all-or-nothing validation, envelope
    encoding, block-list lookup and the PutRecords retry loop, against in-memory ports."""
    import json

    from anomaly_guardian.ingest.service import IngestRequest, IngestService
    from anomaly_guardian.scenario.generator import generate

    class Sink:
        def put(self, entries):
            return [None] * len(entries)

    class NoBlocks:
        def blocked(self, tenant, ips, users):
            return set()

    events = generate(5000, seed=5).events
    bodies = [json.dumps({"events": events[i : i + 500]}) for i in range(0, 5000, 500)]
    service = IngestService(Sink(), NoBlocks())
    service.handle(IngestRequest(bodies[0], "application/json", "acme"))  # warm-up
    started = time.process_time()
    for body in bodies:
        out = service.handle(IngestRequest(body, "application/json", "acme", "198.51.100.1"))
        assert out.status == 202, out.body
    cpu = time.process_time() - started
    print(
        f"   ingest logic: {5000 / cpu:,.0f} events per CPU second, one core "
        f"({cpu / len(bodies) * 1000:.0f} ms CPU per 500-event request; in-memory stream and block list)"
    )


def cold_start(function: str) -> None:
    env = {
        **os.environ,
        "AWS_LAMBDA_FUNCTION_NAME": "bench-detector",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "STATE_TABLE": "s",
        "ANOMALIES_TABLE": "a",
        "IDEMPOTENCY_TABLE": "i",
        "CONFIG_TABLE": "c",
        "BLOCKLIST_TABLE": "b",
        "AUDIT_TABLE": "au",
        "EVENTS_STREAM_NAME": "e",
        "DETECTOR_DLQ_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.pop("POWERTOOLS_TRACE_DISABLED", None)
    code = (
        "import sys,time,importlib.util as u;t=time.perf_counter();c=time.process_time();"
        f"s=u.spec_from_file_location('app',{str(ROOT / 'functions' / function / 'app.py')!r});"
        "m=u.module_from_spec(s);s.loader.exec_module(m);a=time.process_time()-c;w=time.perf_counter()-t;"
        "from anomaly_guardian.adapters.dynamodb import client;client('dynamodb').meta;"
        "print(a,w,time.process_time()-c)"
    )
    cpu, wall, first = [], [], []
    for _ in range(7):
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        c, w, f = out.stdout.strip().splitlines()[-1].split()
        cpu.append(float(c))
        wall.append(float(w))
        first.append(float(f))
    median = statistics.median(cpu)
    print(
        f"   {function} cold start: {median * 1000:.0f} ms CPU to import the handler module "
        f"({statistics.median(wall) * 1000:.0f} ms wall; median of 7 fresh interpreters, interpreter start-up "
        f"excluded; target <= 500 ms: {'PASS' if median <= 0.5 else 'FAIL'}); "
        f"{statistics.median(first) * 1000:.0f} ms CPU with the first DynamoDB client built"
    )


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    throughput()
    ingest_throughput()
    cold_start("detector")
    cold_start("ingest")


if __name__ == "__main__":
    main()
