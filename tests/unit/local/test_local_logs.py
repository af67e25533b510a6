"""CloudWatch Logs filter patterns and the subscription payload of the local stack (pure)."""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from anomaly_guardian.commands.cloudtrail import batches, read_records
from anomaly_guardian.local.logs import filter_matches, subscription_event

RECORD = json.dumps(
    {
        "eventVersion": "1.09",
        "eventName": "RunInstances",
        "eventSource": "ec2.amazonaws.com",
        "requestParameters": {"instanceType": "p4d.24xlarge", "maxCount": 4},
        "errorCode": None,
        "readOnly": False,
        "resources": [{"type": "AWS::EC2::Instance"}],
    }
)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("", True),
        ("{ $.eventVersion = * }", True),
        ("{ $.missing = * }", False),
        ('{ $.eventName = "RunInstances" }', True),
        ("{ $.eventName = Run* }", True),
        ('{ $.eventName != "RunInstances" }', False),
        ("{ $.requestParameters.maxCount >= 4 }", True),
        ("{ $.requestParameters.maxCount > 4 }", False),
        ("{ $.errorCode IS NULL }", True),
        ("{ $.readOnly IS FALSE }", True),
        ("{ $.userIdentity NOT EXISTS }", True),
        ('{ $.resources[0].type = "AWS::EC2::Instance" }', True),
        ('{ ($.eventName = "Stop*" || $.eventSource = "ec2*") && $.readOnly IS FALSE }', True),
        ('{ $.eventName = "StopInstances" && $.eventVersion = * }', False),
        ("RunInstances", True),
        ('"p4d.24xlarge" RunInstances', True),
        ("RunInstances -p4d", False),
        ("?Stop ?Terminate", False),
    ],
)
def test_filter_patterns_select_log_events_like_cloudwatch_logs(pattern, expected):
    assert filter_matches(pattern, RECORD) is expected


def test_json_patterns_never_match_plain_text_and_bad_patterns_raise():
    assert filter_matches("{ $.eventVersion = * }", "CloudTrail digest rotated") is False
    with pytest.raises(ValueError):
        filter_matches("{ $.a = }", RECORD)


def test_the_payload_is_the_gzipped_base64_subscription_message():
    event = subscription_event(
        "/trail", "123_CloudTrail_us-east-1", "f", [{"eventId": "1", "timestamp": 5, "message": "m"}]
    )
    payload = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    assert payload["messageType"] == "DATA_MESSAGE" and payload["subscriptionFilters"] == ["f"]
    assert payload["logGroup"] == "/trail" and payload["logEvents"] == [{"id": "1", "timestamp": 5, "message": "m"}]


def test_trail_files_and_json_lines_are_read_and_non_records_reported(tmp_path):
    rec = json.loads(RECORD)
    trail = tmp_path / "trail.json.gz"
    trail.write_bytes(gzip.compress(json.dumps({"Records": [rec, {"eventName": "x"}]}).encode()))
    got = list(read_records(trail))
    assert [r is not None for _, r, _ in got] == [True, False]
    assert got[1][0].endswith("record 2") and "eventVersion" in got[1][2]
    lines = tmp_path / "r.jsonl"
    lines.write_text(f"{RECORD}\n[1]\n" + json.dumps({"Records": [rec]}) + "\n")
    assert [(w.rsplit("/", 1)[-1], r is not None) for w, r, _ in read_records(lines)] == [
        ("r.jsonl:1", True),
        ("r.jsonl:2", False),
        ("r.jsonl:3 record 1", True),
    ]


def test_put_log_events_batches_respect_the_count_and_size_limits():
    sizes = [len(b) for b in batches(["x" * 400_000] * 5, 0)]
    assert sizes == [2, 2, 1]
    assert [len(b) for b in batches(["m"] * 10_001, 0)] == [10_000, 1]
