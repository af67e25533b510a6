"""Detection results do not move when the hot path is optimised (issue 16).

A fixed generated stream (seed 16, 30,000 events) is replayed with default settings, and the same
events go through the detector's batch logic as Kinesis records (1,000 a batch, two tenants); what
comes out is compared with tests/unit/fixtures/replay_golden.json, written by the code before the
performance work (`python tests/unit/test_replay_golden.py --write` on that commit), then rewritten once
for a deliberate detection change (7ba8b57, the system detector's surprise scorer waits 600 points: one
system anomaly fewer, one explained by another rule); a performance change must never need a rewrite.
Replay ids are random ULIDs, so a replay anomaly is identified by (eventId, detector, type, entity);
the batch path's ids are deterministic and compared as they are. Scores, severities, descriptions and
explanations must be equal too. The stream's digest is in the expectation: if the generator changes, the test says so
instead of blaming the detector.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import zlib
from pathlib import Path

from anomaly_guardian.commands.generate import write_jsonl
from anomaly_guardian.replay import replay
from anomaly_guardian.scenario.generator import generate

EXPECTED = Path(__file__).resolve().parent / "fixtures" / "replay_golden.json"
EVENTS, SEED, BATCH = 30_000, 16, 1_000


def _stream(tmp: Path) -> tuple[Path, list[dict]]:
    events = generate(EVENTS, seed=SEED).events
    path = tmp / "events.jsonl"
    write_jsonl(str(path), events)
    return path, events


def _row(a: dict, with_id: bool) -> list:
    row = [
        a["tenantId"],
        a["originalEvent"].get("eventId"),
        a["detector"],
        a["anomalyType"],
        a["userId"],
        a["anomalyScore"],
        a["severity"],
        a["description"],
        json.dumps(a["explanation"], sort_keys=True),
    ]
    return [a["anomalyId"], *row] if with_id else row


def replay_rows(path: Path) -> list[list]:
    out = io.StringIO()
    replay(path, out, progress=False, errors=None)
    return sorted((_row(json.loads(x), False) for x in out.getvalue().splitlines()), key=json.dumps)


def batch_rows(events: list[dict]) -> list[list]:
    """The detector Lambda's logic (decode, dedupe, pipeline per tenant, deterministic ids), in memory."""
    from anomaly_guardian.detection.batch import BatchDetector, InMemoryAnomalySink, InMemoryDedupe, ListPoisonSink
    from anomaly_guardian.detection.pipeline import DetectionPipeline
    from anomaly_guardian.ingest.envelope import encode_record
    from anomaly_guardian.state.store import InMemoryStateStore

    sink = InMemoryAnomalySink()
    detector = BatchDetector(
        lambda store: DetectionPipeline(store), InMemoryStateStore(), sink, InMemoryDedupe(), ListPoisonSink()
    )
    for b in range(0, len(events), BATCH):
        records = []
        for i, event in enumerate(events[b : b + BATCH]):
            tenant = "acme" if zlib.crc32(event["userId"].encode()) % 3 else "globex"
            data = encode_record(tenant, event, "2026-03-01T12:00:05.000Z")
            seq = str(49620000000000000000000000000000000000000000000000000000 + b + i)
            records.append({"kinesis": {"sequenceNumber": seq, "data": base64.b64encode(data).decode()}})
        result = detector.process(records)
        assert not result.failed
    return sorted((_row(a.model_dump(mode="json"), True) for a in sink.items.values()), key=json.dumps)


def compute(tmp: Path) -> dict:
    path, events = _stream(tmp)
    return {
        "stream": {"events": EVENTS, "seed": SEED, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()},
        "replay": replay_rows(path),
        "batch": batch_rows(events),
    }


def test_given_the_fixed_stream_when_replayed_and_batched_then_anomalies_equal_the_expectation(tmp_path):
    expected = json.loads(EXPECTED.read_text())
    path, events = _stream(tmp_path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == expected["stream"]["sha256"], "the generator's stream changed: regenerate the expectation"
    got = replay_rows(path)
    assert len(got) == len(expected["replay"]) and got == expected["replay"]
    got_batch = batch_rows(events)
    assert len(got_batch) == len(expected["batch"]) and got_batch == expected["batch"]


if __name__ == "__main__":
    import tempfile

    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: test_replay_golden.py --write  (on the commit whose detection is the reference)")
    with tempfile.TemporaryDirectory() as tmp:
        data = compute(Path(tmp))
    rows = {k: ",\n".join(json.dumps(r) for r in data[k]) for k in ("replay", "batch")}
    head = f'{{"stream": {json.dumps(data["stream"])},\n'
    EXPECTED.write_text(f'{head}"replay": [\n{rows["replay"]}\n],\n"batch": [\n{rows["batch"]}\n]}}\n')
    print(f"{EXPECTED}: {len(data['replay'])} replay anomalies, {len(data['batch'])} batch anomalies")
