"""The API fuzzed by a real fuzzer, then the AWS emulation stalled mid-stream, on one local stack (issue 10).

1. Schemathesis (pinned, its own environment `.tools/schemathesis`, `make fuzz-tools`) runs over the whole
   docs/openapi.json, POST /events included, against this module's own `guardian local` stack on free
   ports: fixed seed, bounded examples, every phase (examples, coverage, fuzzing, stateful). The run fails
   on any 5xx, an undocumented status, a response that does not match its schema (body, content type,
   headers) or a stateful failure (a created resource not found, a deleted one still there).
2. Faults: known poison records are put straight onto the stream, then events are POSTed while the
   emulation's process (the stack's own child) is stopped with SIGSTOP and resumed with SIGCONT. Every
   answer must be a 202 or the documented 503 with Retry-After naming what was and was not accepted
   (never a generic 500/502); the client re-sends what was not accepted, as the 503 tells it to.
3. Afterwards the stack's counters show received = processed and nothing sent to the failure destination,
   every accepted event was processed exactly once (one value anomaly per event), and the poison queue
   holds exactly the poison records, each with its reason.

`build/fuzz-report.json` keeps the Schemathesis case counts (docs/evaluation.md reports them).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import boto3
import pytest
import requests

from anomaly_guardian.local.process import StackProcess

ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = ROOT / ".tools" / "schemathesis" / "bin" / "schemathesis"
SEED = 7
MAX_EXAMPLES = 5
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
        "use_after_free",
        "ensure_resource_availability",
    ]
)
STALL_S = 12.0
BATCH = 5  # events per POST, one POST every 0.3 s: each event is a CRITICAL anomaly with its whole response
FAULT_TENANT = "faults"

pytestmark = pytest.mark.skipif(
    not SCHEMATHESIS.exists() and os.environ.get("GUARDIAN_REQUIRE_INFRA_TOOLS") != "1",
    reason="Schemathesis is not installed (make fuzz-tools); `make test` installs it",
)


def token(tenant: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "anomaly_guardian.cli", "token", "--tenant", tenant],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


@pytest.fixture(scope="module")
def stack():
    log = ROOT / "build" / "fuzz-stack.log"  # kept after the run: the handlers' logs of both tests
    proc = StackProcess(log, port=0, log_level="WARNING", template=ROOT / "sam" / "template.yaml").start()
    yield proc
    pid = proc.info.get("aws_emulation_pid")
    if pid:  # never leave the emulation stopped, whatever happened
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGCONT)
    proc.stop()


def aws(stack: StackProcess, service: str):
    return boto3.client(
        service,
        endpoint_url=stack.aws_endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def wait_until_caught_up(stack: StackProcess, timeout: float = 120.0) -> dict:
    """Until every shard is caught up and the counters stop moving for a second."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        stats = stack.stats()
        kin = stats["kinesis"]
        snapshot = [(k["received"], k["processed"]) for k in kin]
        if stats["kinesis_caught_up"] and snapshot == last:
            return stats
        last = snapshot
        time.sleep(1.0)
    raise AssertionError(f"stream never caught up: {stack.stats()['kinesis']}")


def test_1_schemathesis_finds_no_failure_over_the_whole_api(stack, tmp_path):
    assert SCHEMATHESIS.exists(), "make fuzz-tools installs Schemathesis into .tools/schemathesis"
    report = tmp_path / "schemathesis.json"
    cmd = [
        str(SCHEMATHESIS),
        "run",
        str(ROOT / "docs" / "openapi.json"),
        "--url",
        stack.api,
        "-H",
        f"Authorization: Bearer {token('fuzz')}",
        "--seed",
        str(SEED),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--checks",
        CHECKS,
        "--workers",
        "2",
        "--generation-database",
        "none",
        "--suppress-health-check",
        "all",
        "--request-timeout",
        "30",
        "--no-color",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    started = time.monotonic()
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=900)
    elapsed = time.monotonic() - started
    summary = json.loads(report.read_text()) if report.exists() else {}
    cases = summary.get("test_cases", {})
    out = ROOT / "build" / "fuzz-report.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "schemathesis": summary.get("schemathesis_version"),
                "seed": SEED,
                "maxExamples": MAX_EXAMPLES,
                "operations": summary.get("operations", {}).get("tested"),
                "generated": cases.get("generated"),
                "failures": cases.get("unique_failures"),
                "phases": {k: v.get("status") for k, v in summary.get("phases", {}).items()},
                "seconds": round(elapsed, 1),
            },
            indent=2,
        )
        + "\n"
    )
    assert run.returncode == 0, run.stdout[-15000:] + run.stderr[-3000:]
    assert summary["operations"]["tested"] == summary["operations"]["total"] >= 27
    assert "/events" in json.loads((ROOT / "docs" / "openapi.json").read_text())["paths"]
    assert cases["generated"] > 500 and cases["unique_failures"] == 0
    # everything the fuzzer got accepted through POST /events was processed, nothing reached the failure queue
    stats = wait_until_caught_up(stack)
    for stream in stats["kinesis"]:
        assert stream["received"] == stream["processed"] and stream["sent_to_destination"] == 0, stream


def test_2_a_stalled_emulation_gives_503_with_retry_after_and_loses_nothing(stack):
    pid = stack.info.get("aws_emulation_pid")
    assert pid, "the emulation must run in its own process for this test"
    kinesis, sqs = aws(stack, "kinesis"), aws(stack, "sqs")
    stream_name = next(name for name in stack.info["streams"] if name.endswith("-events"))
    dlq_url = stack.info["queues"]["DetectorPoisonQueue"]

    # Known poison, straight onto the stream (ingest would refuse it): each must end up in the DLQ, once.
    poison = {
        "not-json": b'{"tenantId": "faults", "receivedAt": ',
        "no-user": json.dumps(
            {
                "tenantId": FAULT_TENANT,
                "receivedAt": "2026-12-04T00:00:00Z",
                "event": {"eventId": "p-1", "timestamp": "2026-12-04T00:00:00Z", "eventType": "login"},
            }
        ).encode(),
    }
    for key, data in poison.items():
        kinesis.put_record(StreamName=stream_name, Data=data, PartitionKey=f"{FAULT_TENANT}#{key}")

    headers = {"Authorization": f"Bearer {token(FAULT_TENANT)}", "Content-Type": "application/json"}
    run_id = uuid.uuid4().hex[:8]
    accepted: set[str] = set()
    to_resend: list[dict] = []
    answers: list[tuple[int, float, dict, dict]] = []
    lock = threading.Lock()

    def event(i: int) -> dict:
        return {
            "eventId": f"f-{run_id}-{i}",
            "userId": f"user-{run_id}-{i}",  # one user per event: exactly one value anomaly each
            "timestamp": "2026-12-04T10:00:00Z",
            "eventType": "transaction",
            "transactionAmount": 9500.0,
        }

    def post(batch: list[dict]) -> None:
        started = time.monotonic()
        resp = requests.post(f"{stack.api}/events", json={"events": batch}, headers=headers, timeout=60)
        body = resp.json()
        with lock:
            answers.append((resp.status_code, time.monotonic() - started, dict(resp.headers), body))
            if resp.status_code == 202:
                accepted.update(body["eventIds"])
            elif resp.status_code == 503:
                accepted.update(body["acceptedEventIds"])
                by_id = {e["eventId"]: e for e in batch}
                to_resend.extend(by_id[i] for i in body["notAccepted"])

    stalled = threading.Event()

    def stall() -> None:
        time.sleep(1.5)
        os.kill(int(pid), signal.SIGSTOP)
        stalled.set()
        time.sleep(STALL_S)
        os.kill(int(pid), signal.SIGCONT)

    staller = threading.Thread(target=stall)
    staller.start()
    workers: list[threading.Thread] = []
    n = 0
    deadline = time.monotonic() + STALL_S + 4
    while time.monotonic() < deadline:
        batch = [event(n + k) for k in range(BATCH)]
        n += BATCH
        t = threading.Thread(target=post, args=(batch,))
        t.start()
        workers.append(t)
        time.sleep(0.3)
    staller.join()
    for t in workers:
        t.join(timeout=90)
    assert stalled.is_set()

    statuses = sorted({a[0] for a in answers})
    assert set(statuses) <= {202, 503}, [(a[0], a[3]) for a in answers if a[0] not in (202, 503)]
    unavailable = [a for a in answers if a[0] == 503]
    assert unavailable, "the stall produced no 503: the test did not exercise the outage"
    for _status, seconds, resp_headers, body in unavailable:
        assert resp_headers.get("Retry-After") == "5" and body["code"] == "UNAVAILABLE", body
        assert set(body) >= {"accepted", "acceptedEventIds", "notAccepted"} and seconds < 29, (seconds, body)

    # The client does what the 503 says: re-send what was not accepted, after the outage.
    for start in range(0, len(to_resend), 100):
        resp = requests.post(
            f"{stack.api}/events", json={"events": to_resend[start : start + 100]}, headers=headers, timeout=60
        )
        assert resp.status_code == 202, resp.text
        accepted.update(resp.json()["eventIds"])
    assert len(accepted) == n, (len(accepted), n)

    stats = wait_until_caught_up(stack, timeout=180)
    for s in stats["kinesis"]:
        assert s["received"] == s["processed"], s
        assert s["sent_to_destination"] == 0 and s["discarded"] == 0, s

    # Exactly once: one value anomaly per accepted event (none missing, none duplicated by redeliveries).
    # Read straight from the emulated table: the emulation is still busy with the response workflows.
    ddb = aws(stack, "dynamodb")
    per_event: dict[str, int] = {}
    query = {
        "TableName": stack.info["tables"]["AnomaliesTable"],
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": f"T#{FAULT_TENANT}"}},
    }
    while True:
        page = ddb.query(**query)
        for item in page["Items"]:
            eid = item["originalEvent"]["M"]["eventId"]["S"]
            if eid.startswith(f"f-{run_id}-") and item["anomalyType"]["S"] == "value":
                per_event[eid] = per_event.get(eid, 0) + 1
        if "LastEvaluatedKey" not in page:
            break
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    assert set(per_event) == accepted
    assert set(per_event.values()) == {1}

    # The poison queue holds exactly the poison records, each with its reason (nothing else was poison).
    messages = []
    for _ in range(10):
        got = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        messages += [json.loads(m["Body"]) for m in got.get("Messages", [])]
        if not got.get("Messages"):
            break
    reasons = sorted(m["reason"] for m in messages)
    assert len(messages) == 2, reasons
    assert reasons[0].startswith("Malformed JSON") and reasons[1] == "Missing required field: event.userId", reasons
