"""AWS cron/rate expressions, the local clock and the scheduler (pure, no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from anomaly_guardian.local.eventbridge import Target, collect_rules, select_input
from anomaly_guardian.local.schedules import Cron, LocalClock, Schedule, Scheduler, parse_duration


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("cron(15 3 * * ? *)", "2026-12-04T03:14:00", "2026-12-04T03:15:00"),
        ("cron(15 3 * * ? *)", "2026-12-04T03:15:00", "2026-12-05T03:15:00"),
        ("cron(0 4 ? * SUN *)", "2026-12-04T05:00:00", "2026-12-06T04:00:00"),  # 2026-12-06 is a Sunday
        ("cron(0 4 ? * 1 *)", "2026-12-04T05:00:00", "2026-12-06T04:00:00"),  # AWS: 1 = Sunday
        ("cron(0/15 * * * ? *)", "2026-12-04T10:16:00", "2026-12-04T10:30:00"),
        ("cron(0 9 ? * MON-FRI *)", "2026-12-04T10:00:00", "2026-12-07T09:00:00"),  # Fri after 9 -> Mon
        ("cron(0 0 L * ? *)", "2026-02-10T00:00:00", "2026-02-28T00:00:00"),
        ("cron(0 12 ? * 6#1 *)", "2026-12-04T13:00:00", "2027-01-01T12:00:00"),  # first Friday
        ("cron(0 12 ? * 2L *)", "2026-12-01T00:00:00", "2026-12-28T12:00:00"),  # last Monday
        ("cron(30 8 1 JAN,JUL ? 2027)", "2026-12-04T00:00:00", "2027-01-01T08:30:00"),
    ],
)
def test_cron_next_occurrence_follows_aws_rules(expression, after, expected):
    assert Cron.parse(expression).next_after(at(after)) == at(expected)


@pytest.mark.parametrize("bad", ["cron(* * * * *)", "cron(0 0 1 * MON *)", "cron(0 0 15W * ? *)", "cron(61 0 * * ? *)"])
def test_invalid_or_unsupported_cron_is_refused(bad):
    with pytest.raises(ValueError):
        Cron.parse(bad)


def test_durations():
    assert [parse_duration(x) for x in ("90", "90s", "15m", "6h", "1d", "2w", 3)] == [
        90,
        90,
        900,
        21600,
        86400,
        1209600,
        3,
    ]
    with pytest.raises(ValueError):
        parse_duration("soon")


def test_a_clock_jump_runs_each_due_schedule_once_and_plans_the_next_from_the_new_time():
    clock = LocalClock(speed=0.0, start=at("2026-12-04T03:00:00"))  # frozen: only advance() moves it
    fired: list[tuple[str, dict]] = []
    sched = Scheduler(clock)
    for key, expr in (("Drift.Daily", "cron(15 3 * * ? *)"), ("Expiry.Every5", "rate(5 minutes)")):
        sched.add(Schedule(key=key, name=key, expression=expr, deliver=lambda e, k=key: fired.append((k, e)) or True))
    assert sched.run_due() == 0
    sched.advance(600)  # 03:10: the rate schedule only
    assert [k for k, _ in fired] == ["Expiry.Every5"]
    sched.advance(3 * 86400)  # three days: each schedule once (coalesced), not 864 + 3 times
    assert sorted(k for k, _ in fired) == ["Drift.Daily", "Expiry.Every5", "Expiry.Every5"]
    daily = sched.find("Drift.Daily")
    assert daily is not None and daily.next_at == at("2026-12-07T03:15:00")  # now is 12-07 03:10
    assert fired[-1][1]["detail-type"] == "Scheduled Event"


def test_template_rules_are_collected_from_function_events_and_rule_resources():
    class Spec:
        arn = "arn:aws:lambda:us-east-1:123456789012:function:promote"
        events = {
            "Approved": {
                "Type": "EventBridgeRule",
                "Properties": {"Pattern": {"source": ["aws.sagemaker"]}, "InputPath": "$.detail"},
            },
            "Nightly": {"Type": "ScheduleV2", "Properties": {"ScheduleExpression": "rate(1 day)"}},
        }

    resources = {
        "Retrain": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "EventBusName": "arn:aws:events:us-east-1:123456789012:event-bus/guardian",
                "EventPattern": '{"detail-type": ["ModelDriftDetected"]}',
                "Targets": [
                    {
                        "Id": "retrain",
                        "Arn": "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p",
                        "SageMakerPipelineParameters": {
                            "PipelineParameterList": [{"Name": "Environment", "Value": "x"}]
                        },
                    }
                ],
            },
        },
        "Off": {"Type": "AWS::Events::Rule", "Properties": {"State": "DISABLED", "EventPattern": {"a": [1]}}},
        "Cron": {"Type": "AWS::Events::Rule", "Properties": {"ScheduleExpression": "rate(1 hour)"}},
    }
    rules = collect_rules(resources, {"PromoteFunction": Spec()}, lambda x: x)
    assert [(r.name, r.bus, [t.key for t in r.targets]) for r in rules] == [
        ("PromoteFunction-Approved", "default", ["PromoteFunction.Approved"]),
        ("Retrain", "guardian", ["Retrain.retrain"]),
    ]
    assert rules[1].pattern == {"detail-type": ["ModelDriftDetected"]}
    assert rules[1].targets[0].pipeline_parameters == [{"Name": "Environment", "Value": "x"}]
    event = {"detail": {"ModelApprovalStatus": "Approved"}}
    assert select_input(rules[0].targets[0], event) == {"ModelApprovalStatus": "Approved"}
    assert select_input(Target(key="k", arn="a", input='{"action": "check"}'), event) == {"action": "check"}
