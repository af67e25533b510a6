"""`guardian replay --workers N`: the output, bad-line reports and summary do not depend on N."""

from __future__ import annotations

import io
import json
import random
from datetime import UTC, datetime, timedelta

from anomaly_guardian.cli import main
from anomaly_guardian.ingest.envelope import encode_record
from anomaly_guardian.replay import replay
from anomaly_guardian.replay_workers import (
    BARE,
    ENVELOPE,
    assign,
    classify,
    line_stream,
    replay_partitioned,
    split_tenants,
)
from anomaly_guardian.scenario.generator import generate

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def envelope(tenant: str, event: dict) -> str:
    received = (datetime.fromisoformat(event["timestamp"]) + timedelta(milliseconds=250)).isoformat()
    return encode_record(tenant, event, received.replace("+00:00", "Z")).decode()


def multi_tenant_lines(sizes: dict[str, int]) -> list[str]:
    """Generated streams of several tenants (one seed each), interleaved in event time, as envelopes."""
    rows = []
    for seed, (tenant, n) in enumerate(sizes.items(), start=11):
        rows += [(e["timestamp"], envelope(tenant, e)) for e in generate(n, seed=seed).events]
    rows.sort(key=lambda r: r[0])
    return [r for _, r in rows]


def run(path, workers, **kw):
    """(anomalies without `detectedAt`, the run's wall clock; bad-line report; summary)."""
    out, err = io.StringIO(), io.StringIO()
    summary = replay_partitioned(path, out, workers=workers, progress=False, errors=err, **kw)
    items = [json.loads(x) for x in out.getvalue().splitlines()]
    for item in items:
        del item["detectedAt"]
    return items, err.getvalue(), summary


def facts(summary):
    return (
        summary.lines,
        summary.events,
        summary.rejected,
        summary.anomalies,
        dict(summary.by_type),
        dict(summary.by_severity),
        summary.errors,
        summary.sorted_input,
    )


def test_given_a_multi_tenant_stream_when_replayed_on_1_2_3_workers_then_identical_output(tmp_path):
    # Given three tenants of unequal size, a bad line and a blank line, in small batches
    lines = multi_tenant_lines({"acme": 2500, "globex": 1500, "initech": 800})
    lines.insert(40, '{"tenantId":"acme","receivedAt":"2026-03-02T00:00:00Z","event":{"userId":"u"}}')
    lines.insert(100, "")
    lines.insert(700, "{not json")
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    # When replayed on 1, 2 and 3 workers
    one, two, three = (run(path, n, chunk_size=300) for n in (1, 2, 3))
    # Then anomalies (ids, scores, order), the bad-line report and the summary are the same
    assert one[0] == two[0] == three[0]
    assert one[1] == two[1] == three[1]
    assert facts(one[2]) == facts(two[2]) == facts(three[2])
    assert (one[2].workers, two[2].workers, three[2].workers) == (1, 2, 3) and one[2].tenants == 3
    items = one[0]
    assert len(items) == one[2].anomalies > 10
    assert {i["tenantId"] for i in items} == {"acme", "globex", "initech"}
    assert len({i["anomalyId"] for i in items}) == len(items)
    assert one[2].rejected == 2 and one[2].errors[0] == "line 41: Missing required field: event.eventId"
    assert one[2].errors[1].startswith("line 701: Malformed JSON")
    assert one[1].splitlines()[0] == "guardian replay: line 41: Missing required field: event.eventId"


def test_given_the_same_file_shuffled_when_replayed_then_still_identical_for_any_n(tmp_path):
    lines = multi_tenant_lines({"acme": 1200, "globex": 900})
    random.Random(5).shuffle(lines)
    path = tmp_path / "shuffled.jsonl"
    path.write_text("\n".join(lines) + "\n")
    one, two = run(path, 1, chunk_size=250), run(path, 2, chunk_size=250)
    assert not one[2].sorted_input
    assert one[0] == two[0] and facts(one[2]) == facts(two[2]) and one[2].anomalies > 0


def burst_behind_one_ip(tenant: str) -> list[str]:
    """12 accounts x 10 logins from one address in four minutes: under every user's limit (100 per 5 min),
    over the IP's (120 > 100). Only a partition holding all of them sees it."""
    rows = []
    for i in range(120):
        ts = (T0 + timedelta(seconds=2 * i)).isoformat().replace("+00:00", "Z")
        event = {
            "eventId": f"{tenant}-{i}",
            "userId": f"user{i % 12}",
            "timestamp": ts,
            "eventType": "login",
            "ipAddress": "203.0.113.7",
        }
        rows.append(envelope(tenant, event))
    return rows


def test_given_state_shared_across_users_when_split_by_tenant_then_found_where_a_per_user_split_misses_it(tmp_path):
    # Given two tenants, each with a burst spread over 12 accounts behind one IP
    a, b = burst_behind_one_ip("acme"), burst_behind_one_ip("globex")
    lines = [x for pair in zip(a, b, strict=True) for x in pair]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    # When replayed on one and on two workers
    one, two = run(path, 1), run(path, 2)
    # Then both find each tenant's IP burst, identically
    velocity = [x for x in one[0] if x["anomalyType"] == "velocity"]
    assert sorted(v["tenantId"] for v in velocity) == ["acme", "globex"] and one[0] == two[0]
    # While a naive split by user (each account's events replayed alone) finds nothing
    naive = 0
    for user in range(12):
        part = tmp_path / f"user{user}.jsonl"
        part.write_text("\n".join(x for x in a if f'"userId":"user{user}"' in x) + "\n")
        naive += run(part, 1)[2].anomalies
    assert naive == 0


def test_given_a_single_tenant_file_of_bare_events_when_one_worker_then_the_plain_replay_results(tmp_path):
    path = tmp_path / "events.jsonl"
    rows = generate(3000, seed=4).events
    path.write_text("\n".join(json.dumps(e) for e in rows) + "\n")
    plain = io.StringIO()
    replay(path, plain, tenant="acme", chunk_size=500, progress=False, errors=None)
    text, _, summary = run(path, 1, tenant="acme", chunk_size=500)

    def key(item):
        return (item["originalEvent"]["eventId"], item["detector"], item["anomalyType"], item["anomalyScore"])

    expected = [key(json.loads(x)) for x in plain.getvalue().splitlines()]
    assert sorted(key(x) for x in text) == sorted(expected) and expected
    assert summary.tenants == 1 and summary.workers == 1


def test_given_more_workers_than_tenants_when_planned_then_one_worker_per_tenant_largest_first():
    assert assign({0: 100, 1: 10, 2: 60, 3: 45}, 2) == {0: 0, 2: 1, 3: 1, 1: 0}
    assert assign({0: 5}, 4) == {0: 0}


def test_given_lines_when_classified_then_envelopes_by_their_event_object_and_tenant_from_the_record():
    env = encode_record("acme", {"eventId": "e", "userId": "u"}, "2026-03-02T10:00:00Z")
    assert classify(env, "local") == (ENVELOPE, "acme")
    assert classify(b'{"eventId":"e","userId":"u","tenantId":"evil"}', "local") == (BARE, "local")
    reordered = b'{"event":{"eventId":"e"},"receivedAt":"2026-03-02T10:00:00Z","tenantId":"globex"}'
    assert classify(reordered, "local") == (ENVELOPE, "globex")
    text = b'{"eventId":"e","userId":"u","metadata":{"note":"\\"event\\": x"}}'
    assert classify(text, "local") == (BARE, "local")
    assert classify(b'{"event": {', "local") == (BARE, "local")


def test_given_the_cli_when_replaying_with_workers_then_summary_and_bad_lines_on_stderr(tmp_path, capsys):
    lines = [*burst_behind_one_ip("acme"), "not json", *burst_behind_one_ip("globex")]
    events, out = tmp_path / "e.jsonl", tmp_path / "a.jsonl"
    events.write_text("\n".join(lines) + "\n")
    assert main(["replay", str(events), "--output", str(out), "--workers", "2", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "line 121: Malformed JSON" in err and "rejected lines: 1" in err and "velocity=2" in err
    assert "workers: 2 of 2 asked (2 tenants)" in err
    assert len(out.read_text().splitlines()) == 2
    assert main(["replay", str(events), "--output", str(out), "--workers", "0"]) == 2
    assert "--workers needs" in capsys.readouterr().err


def test_given_archive_objects_when_replayed_by_partition_then_the_partitions_add_up_to_the_whole(tmp_path, capsys):
    # Given two gzip objects of concatenated envelopes (Firehose's shape), one with a broken record
    import gzip

    lines = multi_tenant_lines({"acme": 900, "globex": 700, "initech": 500})
    day = tmp_path / "events" / "dt=2026-03-02"
    day.mkdir(parents=True)
    (day / "a.gz").write_bytes(gzip.compress("".join(lines[::2]).encode()))
    (day / "b.gz").write_bytes(gzip.compress(("".join(lines[1::2]) + '{"tenantId":').encode()))
    # When replayed whole, and as partitions 0/2 and 1/2
    whole = tmp_path / "whole.jsonl"
    assert main(["replay", str(tmp_path / "events"), "--output", str(whole), "--workers", "2", "--no-progress"]) == 0
    err = capsys.readouterr().err
    parts = []
    for i in range(2):
        out = tmp_path / f"part{i}.jsonl"
        argv = ["replay", str(day / "a.gz"), str(day / "b.gz"), "--output", str(out), "--workers", "1"]
        assert main([*argv, "--partition", f"{i}/2", "--no-progress"]) == 0
        parts.append({json.loads(x)["anomalyId"] for x in out.read_text().splitlines()})
    # Then the broken record is named by object and record, and the partitions split the whole
    assert f"{day}/b.gz: record {len(lines[1::2]) + 1}: Malformed JSON" in err
    ids = {json.loads(x)["anomalyId"] for x in whole.read_text().splitlines()}
    assert parts[0] | parts[1] == ids and not parts[0] & parts[1] and parts[0] and parts[1]
    assert main(["replay", str(whole), "--output", str(tmp_path / "x"), "--partition", "2/2", "--workers", "1"]) == 2
    assert "--partition needs" in capsys.readouterr().err


def test_given_one_tenant_when_replayed_on_several_workers_then_its_streams_run_apart_with_identical_output(
    tmp_path,
):
    # Given one tenant's generated stream (business events and several metric series), as bare events
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in generate(6000, seed=9).events) + "\n")
    # When replayed on 1, 2 and 3 workers
    one, two, three = (run(path, n, tenant="acme", chunk_size=400) for n in (1, 2, 3))
    # Then the streams were spread (a tenant with no rules and the built-in detectors) and nothing changed
    assert (one[2].workers, two[2].workers, three[2].workers) == (1, 2, 3) and one[2].tenants == 1
    assert one[0] == two[0] == three[0] and facts(one[2]) == facts(two[2]) == facts(three[2])
    assert {a["anomalyType"] for a in one[0]} >= {"system", "velocity"}


def test_given_raw_lines_when_their_stream_is_read_then_as_the_parsed_event_says():
    def metric(**kw):
        return {"eventId": "m", "userId": "s", "timestamp": "2026-03-02T10:00:00Z", "eventType": "metric", **kw}

    cases = [
        ({"eventId": "e", "userId": "u", "eventType": "login", "metadata": {"note": "metric"}}, ""),
        (metric(service="checkout", metricName="latency", metricValue=1.0), "mcheckout\x1flatency"),
        (metric(service="a", metricName="b", metadata={"service": "x"}), "ma\x1fb"),  # duplicate key text
        (metric(service="caf\u00e9\\", metricName="b"), "mcaf\u00e9\\\x1fb"),  # escapes: decoded
        ({"eventId": "c", "userId": "p", "eventType": "cloudtrail"}, "u"),
    ]
    for event, stream in cases:
        line = json.dumps(event).encode()
        assert line_stream(line, BARE) == stream, event
        assert line_stream(encode_record("acme", event, "2026-03-02T10:00:00Z"), ENVELOPE) == stream, event


def test_given_rules_or_an_unknown_detector_when_planning_then_those_tenants_stay_whole():
    from anomaly_guardian.detection.pipeline import DetectionPipeline, default_detectors
    from anomaly_guardian.detection.rules import Rule, RuleDetector, RuleSpec
    from anomaly_guardian.state.store import InMemoryStateStore

    spec = RuleSpec(
        ruleName="many events",
        conditions={"metric": "eventsPerUser", "operator": ">", "threshold": 10, "timeWindow": 60},
        actions=[],
    )
    rule = Rule(**spec.model_dump(), ruleId="r1", createdAt="x", updatedAt="x")
    detectors = [d for d in default_detectors() if d.name != "rules"]
    with_rules = [*detectors, RuleDetector(lambda t: [rule] if t == "acme" else [])]
    assert split_tenants(DetectionPipeline(InMemoryStateStore(), detectors=with_rules), ["acme", "b"]) == {"b"}

    class Custom:
        name = "system"

        def state_keys(self, ev):
            return ()

        def detect(self, ev, states, config):
            return []

    custom = DetectionPipeline(InMemoryStateStore(), detectors=[*detectors, Custom()])
    assert split_tenants(custom, ["acme", "b"]) == set()


def test_given_a_partition_when_indexing_and_spooling_then_only_its_tenants_lines_are_held(tmp_path):
    from anomaly_guardian.replay_workers import index_file, spool_archive, tenant_partition

    lines = multi_tenant_lines({"acme": 300, "globex": 300, "initech": 300})
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n\n")
    mine = tenant_partition("acme", 2)

    def keep(t):
        return tenant_partition(t, 2) == mine

    index = index_file(path, "local", keep)
    wanted = [n for n, x in enumerate(lines, start=1) if keep(json.loads(x)["tenantId"])]
    assert list(index.numbers) == wanted and len(index.offsets) == len(wanted) < len(lines)
    assert index.lines == len(lines) + 1 and {t for t, _ in index.units} <= {"acme", "globex", "initech"}
    spool = spool_archive([path], tmp_path / "spool.jsonl", keep)
    assert spool.path.read_text().splitlines() == [lines[n - 1] for n in wanted]
    assert spool.where(1) == f"{path}: record {wanted[0]}"


def test_given_pass_1_in_byte_ranges_when_replayed_then_line_numbers_order_and_output_unchanged(tmp_path, monkeypatch):
    import anomaly_guardian.replay_workers as rw

    # Given a file indexed in shares of ~20 KB (so 2 and 3 workers each index a part), with bad lines
    lines = multi_tenant_lines({"acme": 1500, "globex": 1000})
    lines.insert(5, "{broken")
    lines.insert(1800, '{"tenantId":"acme","receivedAt":"2026-03-02T00:00:00Z","event":{"userId":"u"}}')
    random.Random(3).shuffle(lines)  # out of order across the shares too
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    baseline = run(path, 1, chunk_size=300)
    monkeypatch.setattr(rw, "MIN_SEGMENT_BYTES", 20_000)
    assert len(rw.segments_of([path], False, 3, str(tmp_path))) == 3
    # When replayed on 2 and 3 workers
    two, three = run(path, 2, chunk_size=300), run(path, 3, chunk_size=300)
    # Then all is as with pass 1 in one piece
    assert baseline[0] == two[0] == three[0] and baseline[1] == two[1] == three[1]
    assert facts(baseline[2]) == facts(two[2]) == facts(three[2]) and not baseline[2].sorted_input
    bad = sorted(n for n, x in enumerate(lines, start=1) if not x.startswith('{"tenantId":"') or '"userId":"u"}' in x)
    assert sorted(int(e.split(":")[0].split()[1]) for e in baseline[2].errors) == bad
    assert len(three[2].prepare_cpu_seconds) == 3
