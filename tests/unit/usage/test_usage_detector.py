"""Given CloudTrail-shaped usage, when it streams through the real pipeline, then spikes and first GPU
launches are flagged once, and seasonal, noisy clean usage stays quiet."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from anomaly_guardian.detection.pipeline import DetectionPipeline
from anomaly_guardian.detection.usage import UsageDetector
from anomaly_guardian.models.event import parse_event
from anomaly_guardian.state import InMemoryStateStore
from anomaly_guardian.usage.cloudtrail import to_event

START = datetime(2026, 3, 1, tzinfo=UTC)


def invoke_record(i: int, when: datetime, function: str = "orders-worker") -> dict:
    return {
        "eventID": f"ct-{function}-{i}",
        "eventTime": when.isoformat().replace("+00:00", "Z"),
        "eventSource": "lambda.amazonaws.com",
        "eventName": "Invoke",
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "lambda.amazonaws.com",
        "userIdentity": {"type": "AWSService", "invokedBy": "sqs.amazonaws.com"},
        "requestParameters": {"functionName": f"arn:aws:lambda:eu-west-1:123456789012:function:{function}"},
        "recipientAccountId": "123456789012",
    }


def run_instances(i: int, when: datetime, instance_type: str, arn: str) -> dict:
    return {
        "eventID": f"ct-run-{i}",
        "eventTime": when.isoformat().replace("+00:00", "Z"),
        "eventSource": "ec2.amazonaws.com",
        "eventName": "RunInstances",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.9",
        "userIdentity": {"type": "IAMUser", "arn": arn},
        "requestParameters": {"instancesSet": {"items": [{"instanceType": instance_type}]}, "maxCount": 4},
    }


def seasonal_invokes(days: int, rng: random.Random) -> list[dict]:
    """About 5-40 invocations per 5 minutes, busier in the (UTC) day, Poisson-ish noise."""
    out, i = [], 0
    for bucket in range(days * 288):
        hour = (bucket * 5 // 60) % 24
        rate = 5 + 35 * max(0.0, 1 - abs(hour - 14) / 8)
        for _ in range(max(0, int(rng.gauss(rate, rate**0.5)))):
            out.append(invoke_record(i, START + timedelta(seconds=bucket * 300 + rng.uniform(0, 299))))
            i += 1
    return out


def detect(records: list[dict]) -> list:
    pipeline = DetectionPipeline(InMemoryStateStore(), detectors=[UsageDetector()])
    events = [parse_event(to_event(r)) for r in records]
    anomalies = []
    for start in range(0, len(events), 2000):
        anomalies += pipeline.process("acme", events[start : start + 2000])
    return anomalies


def test_seasonal_noisy_invocations_raise_nothing():
    assert detect(seasonal_invokes(4, random.Random(7))) == []


def test_lambda_stuck_in_a_loop_is_flagged_once_per_bucket():
    rng = random.Random(11)
    records = seasonal_invokes(3, rng)
    loop_start = START + timedelta(days=3, hours=3)
    records += [invoke_record(10_000_000 + k, loop_start + timedelta(seconds=k * 0.25)) for k in range(2400)]
    anomalies = detect(records)
    assert anomalies, "the loop went unnoticed"
    assert {a.anomalyType for a in anomalies} == {"usage"}
    assert all("lambda:Invoke:orders-worker" in a.description for a in anomalies)
    # 2,400 calls over 10 minutes: at most one anomaly per 5-minute bucket (3 buckets touched).
    assert 1 <= len(anomalies) <= 3
    first = anomalies[0]
    assert first.explanation[0].feature == "apiCallsPerBucket"
    assert first.explanation[0].observed > 3 * first.explanation[0].expected


def test_first_gpu_launch_after_warmup_is_flagged_but_not_during_warmup():
    arn = "arn:aws:iam::123456789012:user/ci-deployer"
    rng = random.Random(3)
    records = seasonal_invokes(2, rng)
    records.append(run_instances(1, START + timedelta(hours=2), "p4d.24xlarge", "arn:aws:iam::123456789012:user/ml"))
    records.append(run_instances(2, START + timedelta(days=1, hours=6), "t3.micro", arn))
    records.append(run_instances(3, START + timedelta(days=1, hours=7), "g5.12xlarge", arn))
    records.append(run_instances(4, START + timedelta(days=1, hours=8), "g5.12xlarge", arn))
    anomalies = detect(records)
    gpu = [a for a in anomalies if "GPU" in a.description]
    assert len(gpu) == 1, [a.description for a in anomalies]
    assert gpu[0].originalEvent["eventId"] == "ct-run-3"
    # A CloudTrail principal is an IAM identity, not an end user: the alert names it in clear.
    assert gpu[0].userId == arn
    assert gpu[0].usage["principal"]["arn"] == arn
    assert gpu[0].usage["top"]["resources"] == [{"value": "g5.12xlarge", "count": 4}]
    assert gpu[0].usage["principalActivity"]["apis"] == [{"value": "ec2:RunInstances:g5", "count": 1}]


def leaked_key_call(i: int, when: datetime, region: str, api: str = "RunInstances") -> dict:
    return {
        "eventID": f"ct-leak-{i}",
        "eventTime": when.isoformat().replace("+00:00", "Z"),
        "eventSource": "ec2.amazonaws.com",
        "eventName": api,
        "awsRegion": region,
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "Boto3/1.34.0 Python/3.12 Linux",
        "recipientAccountId": "123456789012",
        "errorCode": "Client.UnauthorizedOperation" if i % 5 == 0 else None,
        "userIdentity": {
            "type": "AssumedRole",
            "arn": "arn:aws:sts::123456789012:assumed-role/ci/session-1",
            "accessKeyId": "ASIAEXAMPLEKEY000001",
            "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::123456789012:role/ci"}},
        },
        "requestParameters": {"instancesSet": {"items": [{"instanceType": "c5.large"}]}, "maxCount": 1},
    }


def test_a_spike_names_the_principal_and_the_calls_behind_it():
    records = seasonal_invokes(2, random.Random(5))
    start = START + timedelta(days=2, hours=1)
    regions = ["us-east-1", "eu-west-1", "ap-southeast-1"]
    records += [leaked_key_call(k, start + timedelta(seconds=k * 2), regions[k % 3]) for k in range(60)]
    records += [
        leaked_key_call(1000 + k, start + timedelta(seconds=k), "us-east-1", "DescribeRegions") for k in range(4)
    ]
    spikes = [a for a in detect(records) if a.entities.get("api") == "ec2:RunInstances:c5"]
    assert spikes, "the burst went unnoticed"
    a = spikes[0]
    u = a.usage
    assert a.userId == u["principal"]["arn"] == "arn:aws:sts::123456789012:assumed-role/ci/session-1"
    assert u["principal"]["accessKeyId"] == "ASIAEXAMPLEKEY000001"
    assert u["principal"]["sessionIssuer"] == "arn:aws:iam::123456789012:role/ci"
    assert u["principal"]["type"] == "AssumedRole"
    assert u["accountId"] == "123456789012"
    assert {r["value"] for r in u["top"]["regions"]} == set(regions)
    assert u["top"]["sourceIps"] == [{"value": "198.51.100.7", "count": u["observed"]}]
    assert u["top"]["userAgents"][0]["value"].startswith("Boto3/")
    assert u["top"]["errorCodes"][0]["value"] == "Client.UnauthorizedOperation"
    assert u["observed"] > 3 * max(1.0, u["expected"])
    assert u["window"]["start"] < u["window"]["end"]
    apis = {r["value"] for r in u["principalActivity"]["apis"]}
    assert {"ec2:RunInstances:c5", "ec2:DescribeRegions"} <= apis  # what else the key did meanwhile


def test_enrichment_tallies_are_bounded():
    from anomaly_guardian.detection.usage import MAX_DISTINCT, OTHER, _tally, top

    groups: dict = {}
    for i in range(50):
        _tally(groups, "sourceIps", f"198.51.100.{i}")
    assert len(groups["sourceIps"]) == MAX_DISTINCT + 1
    assert groups["sourceIps"][OTHER] == 50 - MAX_DISTINCT
    shown = top(groups["sourceIps"], 3)
    assert shown[-1] == {"value": OTHER, "count": 50 - 3}


def detect_in_turn(*trails: list[dict]) -> list[list]:
    """Each trail through the same pipeline and state, one after the other: the anomalies of each."""
    pipeline = DetectionPipeline(InMemoryStateStore(), detectors=[UsageDetector()])
    out = []
    for records in trails:
        events = [parse_event(to_event(r)) for r in records]
        found = []
        for start in range(0, len(events), 2000):
            found += pipeline.process("acme", events[start : start + 2000])
        out.append(found)
    return out


def shifted(records: list[dict], by: timedelta, tag: str) -> list[dict]:
    out = []
    for r in records:
        when = datetime.fromisoformat(r["eventTime"].replace("Z", "+00:00")) + by
        out.append({**r, "eventID": f"{r['eventID']}-{tag}", "eventTime": when.isoformat().replace("+00:00", "Z")})
    return out


def test_an_older_trail_backfilled_into_a_live_tenant_is_judged_on_its_own_history():
    # Given a tenant whose live usage is two months ahead of an older trail with a Lambda loop
    older = seasonal_invokes(3, random.Random(11))
    loop_start = START + timedelta(days=2, hours=15)
    older += [invoke_record(10_000_000 + k, loop_start + timedelta(seconds=k * 0.25)) for k in range(2400)]
    live = shifted(seasonal_invokes(3, random.Random(12)), timedelta(days=60), "live")
    # When the older trail is replayed after the live traffic
    alone = detect(older)
    _, backfilled = detect_in_turn(live, older)
    # Then the loop is found exactly as on a fresh tenant, instead of folding into one live bucket
    assert alone, "the loop went unnoticed on a fresh tenant"
    assert [a.originalEvent["eventId"] for a in backfilled] == [a.originalEvent["eventId"] for a in alone]


def test_a_backfilled_entity_is_not_judged_before_it_has_warmed_up_again():
    # Given a warmed-up live tenant, when a 3-hour older trail with a burst in its first hour arrives
    live = shifted(seasonal_invokes(2, random.Random(4)), timedelta(days=30), "live")
    burst = [invoke_record(20_000_000 + k, START + timedelta(minutes=30, seconds=k)) for k in range(200)]
    older = sorted(seasonal_invokes(1, random.Random(5))[:600] + burst, key=lambda r: r["eventTime"])
    _, backfilled = detect_in_turn(live, older)
    # Then nothing is flagged: the restarted history has no baseline yet
    assert backfilled == []


def test_events_a_few_minutes_out_of_order_neither_alarm_nor_hide_a_loop():
    rng = random.Random(21)
    records = seasonal_invokes(3, rng)
    loop_start = START + timedelta(days=2, hours=15)
    records += [invoke_record(10_000_000 + k, loop_start + timedelta(seconds=k * 0.25)) for k in range(2400)]
    records.sort(key=lambda r: r["eventTime"])
    # Given delivery order off by up to ten minutes (CloudTrail files arrive late and interleaved)
    jitter = sorted(range(len(records)), key=lambda i: i + rng.uniform(-1, 1) * 20)
    anomalies = detect([records[i] for i in jitter])
    assert anomalies and all("lambda:Invoke:orders-worker" in a.description for a in anomalies)
    windows = {a.usage["window"]["start"] for a in anomalies}
    assert windows <= {"2026-03-03T15:00:00Z", "2026-03-03T15:05:00Z", "2026-03-03T15:10:00Z"}, windows
