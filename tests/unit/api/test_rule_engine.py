"""Rule engine: Given tenant rules, When events flow through the real pipeline, Then `rule` anomalies."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from anomaly_guardian.detection.pipeline import DetectionPipeline
from anomaly_guardian.detection.rules import CachedRuleProvider, Rule, RuleDetector, RuleSpec, parse_window
from anomaly_guardian.models.event import parse_event
from anomaly_guardian.state.store import InMemoryStateStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def rule(metric, op, threshold, window=None, **kw):
    spec = RuleSpec(
        ruleName=kw.pop("name", f"{metric} {op} {threshold}"),
        conditions={"metric": metric, "operator": op, "threshold": threshold, "timeWindow": window},
        actions=kw.pop("actions", [{"type": "hold_transaction", "parameters": {"minutes": 30}}]),
        **kw,
    )
    return Rule(**spec.model_dump(), ruleId=f"r-{metric}", createdAt="x", updatedAt="x")


def event(i, user="u1", **kw):
    return parse_event(
        {
            "eventId": f"e{i}",
            "userId": user,
            "eventType": "transaction",
            "timestamp": (T0 + timedelta(seconds=i)).isoformat(),
            **kw,
        }
    )


def run(rules, events, tenant="acme"):
    pipeline = DetectionPipeline(InMemoryStateStore(), detectors=[RuleDetector(lambda t: rules if t == tenant else [])])
    return pipeline.process(tenant, events)


def test_threshold_rule_raises_rule_anomaly_with_actions_and_explanation():
    out = run([rule("transactionAmount", ">", 1000, severity="CRITICAL")], [event(1, transactionAmount=1500.0)])
    assert len(out) == 1
    a = out[0]
    assert (a.anomalyType, a.severity) == ("rule", "CRITICAL")
    assert a.explanation[0].feature == "transactionAmount" and a.explanation[0].observed == 1500.0
    assert "transactionAmount = 1500 > 1000" in a.description
    (match,) = a.model_dump()["matchedRules"]
    assert match["ruleId"] == "r-transactionAmount"
    assert match["actions"] == [{"type": "hold_transaction", "parameters": {"minutes": 30}}]


@pytest.mark.parametrize(
    ("op", "value", "hit"),
    [(">", 10, False), (">=", 10, True), ("<", 11, True), ("==", 10, True), ("!=", 10, False), ("<=", 9, False)],
)
def test_operators(op, value, hit):
    assert bool(run([rule("requestsPerSecond", op, value)], [event(1, requestsPerSecond=10.0)])) is hit


def test_rule_not_applicable_when_event_lacks_the_metric():
    assert run([rule("transactionAmount", ">", 0)], [event(1, requestsPerSecond=5.0)]) == []


def test_windowed_count_sum_and_distinct_ips():
    rules = [
        rule("eventsPerUser", ">", 3, "10s", name="burst"),
        rule("amountPerUser", ">=", 300, "1m", name="spend"),
        rule("distinctIpsPerUser", ">=", 3, 60, name="ips"),
    ]
    events = [event(i, transactionAmount=100.0, ipAddress=f"203.0.113.{i}") for i in range(4)]
    out = run(rules, events)
    matched = [sorted(m["ruleName"] for m in a.model_dump()["matchedRules"]) for a in out]
    assert matched == [["ips", "spend"], ["burst", "ips", "spend"]]  # third event; fourth event
    # Outside the window the count starts again: events 100 s apart never exceed 3 in 10 s.
    assert run([rules[0]], [event(i * 100) for i in range(10)]) == []


def test_other_tenants_rules_do_not_apply():
    assert run([rule("transactionAmount", ">", 1)], [event(1, transactionAmount=5.0)], tenant="globex") != []
    pipeline = DetectionPipeline(
        InMemoryStateStore(),
        detectors=[RuleDetector(lambda t: [rule("transactionAmount", ">", 1)] if t == "acme" else [])],
    )
    assert pipeline.process("globex", [event(1, transactionAmount=5.0)]) == []


def test_disabled_rules_are_ignored_by_the_provider():
    loader = lambda t: [rule("transactionAmount", ">", 1, enabled=False)]  # noqa: E731
    assert CachedRuleProvider(loader)("acme") == []


def test_cache_expires_within_ttl_with_injected_clock():
    now = [0.0]
    calls = []
    current = {"rules": [rule("transactionAmount", ">", 1000)]}

    def loader(tenant):
        calls.append(tenant)
        return current["rules"]

    provider = CachedRuleProvider(loader, ttl_seconds=60, clock=lambda: now[0])
    assert provider("acme")[0].conditions.threshold == 1000
    current["rules"] = [rule("transactionAmount", ">", 5)]
    now[0] = 59.9
    assert provider("acme")[0].conditions.threshold == 1000 and len(calls) == 1
    now[0] = 60.0
    assert provider("acme")[0].conditions.threshold == 5 and len(calls) == 2
    with pytest.raises(ValueError, match="within a minute"):
        CachedRuleProvider(loader, ttl_seconds=61)


@pytest.mark.parametrize(
    ("conditions", "field"),
    [
        ({"metric": "bogus", "operator": ">", "threshold": 1}, "conditions.metric"),
        ({"metric": "transactionAmount", "operator": "=~", "threshold": 1}, "conditions.operator"),
        ({"metric": "eventsPerUser", "operator": ">", "threshold": 1}, "conditions"),
        ({"metric": "eventsPerUser", "operator": ">", "threshold": 1, "timeWindow": "2d"}, "conditions.timeWindow"),
        ({"metric": "transactionAmount", "operator": ">", "threshold": "NaN"}, "conditions.threshold"),
    ],
)
def test_invalid_conditions_are_refused(conditions, field):
    with pytest.raises(ValidationError) as err:
        RuleSpec(ruleName="x", conditions=conditions)
    assert ".".join(str(p) for p in err.value.errors()[0]["loc"]).startswith(field)


def test_unknown_action_type_refused():
    with pytest.raises(ValidationError):
        RuleSpec(
            ruleName="x",
            conditions={"metric": "metricValue", "operator": ">", "threshold": 1},
            actions=[{"type": "nuke"}],
        )


@pytest.mark.parametrize(("raw", "seconds"), [(300, 300), ("300", 300), ("5m", 300), ("1h", 3600), ("1d", 86400)])
def test_parse_window(raw, seconds):
    assert parse_window(raw) == seconds
