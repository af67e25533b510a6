"""Given CloudTrail as delivered (a gzip log file and JSON lines, out of order, one bad record), when
`guardian replay --source cloudtrail` runs over them, then anomalies come out with the records'
eventIDs, in time order across files, and the bad record is reported with its file and position."""

from __future__ import annotations

import gzip
import json
import random
from datetime import timedelta

from test_usage_detector import START, invoke_record, seasonal_invokes

from anomaly_guardian.cli import main


def _write(tmp_path):
    rng = random.Random(21)
    records = seasonal_invokes(2, rng)
    loop = START + timedelta(days=2, hours=2)
    records += [invoke_record(9_000_000 + k, loop + timedelta(seconds=k * 0.3), "billing-retry") for k in range(1500)]
    rng.shuffle(records)
    half = len(records) // 2
    log_file = tmp_path / "123456789012_CloudTrail_eu-west-1_20260301T0000Z_abc.json.gz"
    log_file.write_bytes(gzip.compress(json.dumps({"Records": records[:half]}).encode()))
    lines = tmp_path / "trail.jsonl"
    body = [json.dumps(r) for r in records[half:]]
    body.insert(3, json.dumps({"eventName": "Invoke"}))  # no eventID: reported, not dropped silently
    body.insert(5, "{not json")
    lines.write_text("\n".join(body) + "\n")
    return log_file, lines, {r["eventID"] for r in records}


def test_replay_cloudtrail_files(tmp_path, capsys):
    log_file, lines, ids = _write(tmp_path)
    out = tmp_path / "anomalies.jsonl"
    code = main(["replay", "--source", "cloudtrail", str(log_file), str(lines), "--output", str(out), "--no-progress"])
    assert code == 0
    err = capsys.readouterr().err
    assert f"{lines}: line 4: not a CloudTrail record" in err
    assert f"{lines}: line 6: not JSON" in err
    assert "rejected lines: 2" in err
    anomalies = [json.loads(x) for x in out.read_text().splitlines()]
    assert anomalies, "the Lambda loop went unnoticed"
    assert {a["anomalyType"] for a in anomalies} == {"usage"}
    assert all(a["originalEvent"]["eventId"] in ids for a in anomalies)
    assert all(a["originalEvent"]["eventType"] == "cloudtrail" for a in anomalies)
    loop = [a for a in anomalies if a["entities"]["api"] == "lambda:Invoke:billing-retry"]
    assert loop and all(a["originalEvent"]["eventId"].startswith("ct-billing-retry-") for a in loop)
    # Time order across both shuffled files: the same anomalies as one sorted file would give.
    sorted_file = tmp_path / "sorted.jsonl"
    recs = [json.loads(x) for x in lines.read_text().splitlines() if x.startswith('{"eventID"')]
    recs += json.loads(gzip.decompress(log_file.read_bytes()))["Records"]
    recs.sort(key=lambda r: r["eventTime"])
    sorted_file.write_text("\n".join(json.dumps(r) for r in recs))
    out2 = tmp_path / "anomalies2.jsonl"
    assert main(["replay", "--source", "cloudtrail", str(sorted_file), "--output", str(out2), "--no-progress"]) == 0
    again = [json.loads(x) for x in out2.read_text().splitlines()]
    assert [(a["originalEvent"]["eventId"], a["description"]) for a in again] == [
        (a["originalEvent"]["eventId"], a["description"]) for a in anomalies
    ]


def test_missing_file_and_plain_source_with_many_files(tmp_path, capsys):
    out = tmp_path / "a.jsonl"
    assert main(["replay", "--source", "cloudtrail", str(tmp_path / "nope.json"), "--output", str(out)]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["replay", str(out), str(out), "--output", str(out)]) == 2
    assert "--source cloudtrail" in capsys.readouterr().err
