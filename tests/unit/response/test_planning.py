"""Action planning: per-type defaults, rule actions, approval, notify for every severity."""

from __future__ import annotations

import pytest

from anomaly_guardian.response.planning import plan_actions


def types(plan, key="actions"):
    return [a["type"] for a in plan[key]]


@pytest.mark.parametrize(
    ("kind", "expected", "review"),
    [
        ("velocity", ["rate_limit", "notify"], False),
        ("value", ["hold_transaction", "notify"], True),
        ("geolocation", ["step_up_auth", "notify"], False),
        ("behavioral", ["enhanced_monitoring", "notify"], False),
        ("system", ["scale", "notify"], False),
        ("usage", ["notify"], False),
        ("ml", ["notify"], False),
    ],
)
def test_default_actions_per_type(kind, expected, review):
    plan = plan_actions({"anomalyType": kind})
    assert types(plan) == expected
    assert plan["review"] is review
    assert plan["afterApproval"] == []


def test_rule_actions_are_added_with_their_parameters():
    rules = [{"ruleId": "R1", "actions": [{"type": "rate_limit", "parameters": {"durationMinutes": 15}}]}]
    plan = plan_actions({"anomalyType": "rule"}, rules)
    rate = plan["actions"][0]
    assert rate == {"type": "rate_limit", "parameters": {"durationMinutes": 15}, "source": "rule:R1"}
    assert types(plan) == ["rate_limit", "notify"]


def test_rule_action_requiring_approval_waits_for_the_review():
    rules = [{"ruleId": "R2", "actions": [{"type": "rate_limit", "parameters": {"requireApproval": True}}]}]
    plan = plan_actions({"anomalyType": "velocity"}, rules)
    assert "rate_limit" not in types(plan)
    assert types(plan, "afterApproval") == ["rate_limit"]
    assert "requireApproval" not in plan["afterApproval"][0]["parameters"]
    assert plan["review"] is True


def test_rule_webhook_action_is_a_notify_and_unknown_types_are_reported():
    rules = [{"ruleId": "R3", "actions": [{"type": "webhook"}, {"type": "reboot_the_world"}]}]
    plan = plan_actions({"anomalyType": "rule"}, rules)
    assert types(plan) == ["notify"]
    assert plan["actions"][0]["source"] == "rule:R3"
    assert plan["skipped"] == ["rule R3: unsupported action type 'reboot_the_world'"]
