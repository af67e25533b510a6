"""Given a busy service role's CloudTrail calls, when they run through the default detectors, then
the business detectors (velocity, value, geolocation, behavioural, model) never judge the principal:
no state for it, no findings; only the usage detector and rules written for `cloudtrail` see them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from anomaly_guardian.detection.pipeline import DetectionPipeline
from anomaly_guardian.detection.rules import Rule, RuleDetector, RuleSpec
from anomaly_guardian.models.event import parse_event
from anomaly_guardian.state import InMemoryStateStore
from anomaly_guardian.usage.cloudtrail import to_event

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def busy_role_calls(n: int) -> list:
    """n DescribeInstances calls in 5 minutes from one role, from two far-apart regions' IPs."""
    out = []
    for i in range(n):
        record = {
            "eventID": f"ct-{i}",
            "eventTime": (T0 + timedelta(seconds=i * 300 / n)).isoformat().replace("+00:00", "Z"),
            "eventSource": "ec2.amazonaws.com",
            "eventName": "DescribeInstances",
            "awsRegion": "us-east-1" if i % 2 else "ap-southeast-2",
            "sourceIPAddress": "52.1.2.3" if i % 2 else "13.54.0.1",
            "userAgent": "aws-sdk-go/1.44 (go1.21; linux; amd64)",
            "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::123456789012:assumed-role/autoscaler/i-1"},
            "recipientAccountId": "123456789012",
        }
        out.append(parse_event(to_event(record)))
    return out


def test_business_detectors_never_see_cloudtrail_principals():
    store = InMemoryStateStore()
    anomalies = DetectionPipeline(store).process("acme", busy_role_calls(600))
    assert [a for a in anomalies if a.anomalyType != "usage"] == []
    # Every key any detector asked for (the in-memory store creates an item per requested key).
    kinds = {key.split("#")[1] for key in store._items}
    assert kinds <= {"usage"}, kinds  # no velu/veli/geo/behav/ml state for the principal


def test_the_same_calls_as_business_events_would_trip_velocity():
    """The control: the velocity detector does judge ordinary events at this rate."""
    events = [
        parse_event({**e.model_dump(mode="json", exclude_none=True), "eventType": "api_request"})
        for e in busy_role_calls(600)
    ]
    anomalies = DetectionPipeline(InMemoryStateStore()).process("acme", events)
    assert any(a.anomalyType == "velocity" for a in anomalies)


def _rule(event_type: str | None) -> Rule:
    spec = RuleSpec(
        ruleName=f"calls per principal ({event_type})",
        conditions={
            "metric": "eventsPerUser",
            "operator": ">",
            "threshold": 100,
            "timeWindow": 300,
            "eventType": event_type,
        },
        actions=[],
    )
    return Rule(**spec.model_dump(), ruleId=f"r-{event_type}", createdAt="x", updatedAt="x")


def test_only_rules_written_for_cloudtrail_apply_to_usage_events():
    generic = DetectionPipeline(InMemoryStateStore(), detectors=[RuleDetector(lambda t: [_rule(None)])])
    assert generic.process("acme", busy_role_calls(300)) == []
    written = DetectionPipeline(InMemoryStateStore(), detectors=[RuleDetector(lambda t: [_rule("cloudtrail")])])
    hits = written.process("acme", busy_role_calls(300))
    assert hits and {a.anomalyType for a in hits} == {"rule"}
