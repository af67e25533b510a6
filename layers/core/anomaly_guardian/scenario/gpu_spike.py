"""A leaked-key GPU spike as CloudTrail records (the demo and the local-stack tests send it): one quiet
call 30 hours ago (the usage detector's warm-up), then `calls` RunInstances of `per_call` p4d.24xlarge in
us-east-1 now. Priced by the usage detector at about $33 per instance-hour (pricing/prices.json)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

ACCOUNT = "123456789012"


def _record(i: int, when: datetime, name: str, params: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {
        "eventVersion": "1.09",
        "eventID": f"{prefix}-{i}",
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "ec2.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.50",
        "userAgent": "aws-cli/2.17.0",
        "userIdentity": {
            "type": "IAMUser",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/ci-deployer",
            "accountId": ACCOUNT,
            "accessKeyId": "AKIAEXAMPLELEAKED01",
        },
        "requestParameters": params,
        "recipientAccountId": ACCOUNT,
        "eventType": "AwsApiCall",
    }


def gpu_spike_records(
    now: datetime | None = None, calls: int = 3, per_call: int = 4, prefix: str = "gpu-spike"
) -> list[dict[str, Any]]:
    now = now or datetime.now(UTC)
    records = [_record(0, now - timedelta(hours=30), "DescribeInstances", {}, prefix)]
    launch = {"instancesSet": {"items": [{"instanceType": "p4d.24xlarge", "minCount": per_call, "maxCount": per_call}]}}
    records += [
        _record(k, now - timedelta(seconds=calls - k), "RunInstances", launch, prefix) for k in range(1, calls + 1)
    ]
    return records
