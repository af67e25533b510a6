"""`guardian replay`: bad lines reported with numbers, global event-time order, output format, CLI."""

from __future__ import annotations

import io
import json

from anomaly_guardian.cli import main
from anomaly_guardian.detection.pipeline import DetectionPipeline
from anomaly_guardian.replay import format_summary, replay
from anomaly_guardian.state.store import InMemoryStateStore


class OrderSpy:
    name = "spy"

    def __init__(self):
        self.seen = []

    def state_keys(self, ev):
        return ()

    def detect(self, ev, states, config):
        self.seen.append(ev.event.eventId)
        return []


def line(eid, minute, **kw):
    return json.dumps(
        {"eventId": eid, "userId": "u1", "timestamp": f"2026-03-02T10:{minute:02d}:00Z", "eventType": "login", **kw}
    )


def test_given_bad_lines_when_replayed_then_reported_with_line_numbers_and_skipped(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join([line("a", 1), "{not json", json.dumps({"eventId": "b"}), "", line("c", 2)]) + "\n")
    errors = io.StringIO()
    summary = replay(path, io.StringIO(), progress=False, errors=errors)
    assert (summary.events, summary.rejected) == (2, 2)
    assert summary.errors[0].startswith("line 2: Malformed JSON")
    assert summary.errors[1] == "line 3: Missing required field: userId"
    assert "line 3: Missing required field: userId" in errors.getvalue()


def test_given_an_unsorted_file_when_replayed_in_small_chunks_then_global_event_time_order(tmp_path):
    path = tmp_path / "events.jsonl"
    minutes = [7, 3, 9, 1, 5, 2, 8, 4, 6, 0]
    path.write_text("\n".join(line(f"m{m}", m) for m in minutes) + "\n")
    spy = OrderSpy()
    summary = replay(
        path,
        io.StringIO(),
        chunk_size=3,
        progress=False,
        pipeline=DetectionPipeline(InMemoryStateStore(), detectors=[spy]),
    )
    assert spy.seen == [f"m{m}" for m in range(10)]
    assert not summary.sorted_input


def test_given_a_burst_when_replayed_then_anomaly_lines_in_api_item_format(tmp_path):
    path = tmp_path / "events.jsonl"
    rows = [
        json.dumps(
            {
                "eventId": f"r{i}",
                "userId": "u1",
                "timestamp": f"2026-03-02T10:00:{i % 60:02d}.{i:03d}Z",
                "eventType": "api_request",
            }
        )
        for i in range(150)
    ]
    path.write_text("\n".join(rows) + "\n")
    out = io.StringIO()
    summary = replay(path, out, progress=False, errors=None)
    items = [json.loads(x) for x in out.getvalue().splitlines()]
    assert summary.anomalies == len(items) == 1 and summary.by_type == {"velocity": 1}
    item = items[0]
    assert item["originalEvent"]["eventId"].startswith("r") and item["anomalyType"] == "velocity"
    assert item["tenantId"] == "local" and item["explanation"]
    text = format_summary(summary)
    assert "events processed: 150" in text and "velocity=1" in text and "events/s" in text


def test_given_the_cli_when_replaying_then_exit_0_and_summary_on_stderr(tmp_path, capsys):
    events = tmp_path / "e.jsonl"
    events.write_text(line("a", 1, transactionAmount=9000.0) + "\nnot json\n")
    out = tmp_path / "a.jsonl"
    assert main(["replay", str(events), "--output", str(out), "--tenant", "acme", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "line 2: Malformed JSON" in err and "rejected lines: 1" in err and "value=1" in err
    assert json.loads(out.read_text())["tenantId"] == "acme"


def test_given_a_missing_file_when_replaying_then_exit_2(tmp_path, capsys):
    assert main(["replay", str(tmp_path / "nope.jsonl"), "--output", str(tmp_path / "o.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err
