"""Value: robust per-user profile of log(amount), population prior, absolute limit."""

from __future__ import annotations

import random

from anomaly_guardian.detection.value import ValueDetector


def history(h, user="alice", n=12, median=40.0, seed=1):
    rng = random.Random(seed)
    return [
        (
            i * 3600.0,
            {
                "userId": user,
                "eventType": "transaction",
                "transactionAmount": round(median * rng.lognormvariate(0, 0.4), 2),
            },
        )
        for i in range(n)
    ]


def test_given_a_user_history_when_amount_is_50x_typical_then_value_anomaly_with_explanation(harness):
    h = harness([ValueDetector()])
    assert h.feed(history(h)) == []
    found = h.feed([(50_000, {"eventType": "transaction", "transactionAmount": 2000.0})])
    assert len(found) == 1
    a = found[0]
    assert a.anomalyType == "value" and a.severity in ("HIGH", "CRITICAL", "MEDIUM")
    z = next(x for x in a.explanation if x.feature == "log_transaction_amount_z")
    assert z.observed > z.expected
    assert "typical" in a.description


def test_given_a_user_history_when_a_large_but_normal_purchase_then_quiet(harness):
    # Given a $40 spender, When they spend 3x their typical amount, Then nothing fires
    h = harness([ValueDetector()])
    h.feed(history(h))
    assert h.feed([(50_000, {"eventType": "transaction", "transactionAmount": 120.0})]) == []


def test_given_a_new_user_when_moderate_amount_then_prior_keeps_quiet_but_absolute_limit_fires(harness):
    h = harness([ValueDetector()])
    assert h.feed([(0, {"userId": "new1", "eventType": "transaction", "transactionAmount": 900.0})]) == []
    found = h.feed([(0, {"userId": "new2", "eventType": "transaction", "transactionAmount": 6200.0})])
    assert len(found) == 1
    assert found[0].explanation[0].feature == "transactionAmount" and found[0].explanation[0].expected == 5000.0


def test_given_a_fraudulent_amount_when_flagged_then_it_is_not_learned(harness):
    h = harness([ValueDetector()])
    h.feed(history(h))
    key = "t1#value#" + h.pipeline.pseudonymiser.user("t1", "alice")
    before = dict(h.store._items[key].state)
    assert len(h.feed([(50_000, {"eventType": "transaction", "transactionAmount": 3000.0})])) == 1
    assert h.store._items[key].state == before  # profile untouched
    assert len(h.feed([(50_100, {"eventType": "transaction", "transactionAmount": 3100.0})])) == 1  # still odd


def test_given_non_transaction_events_when_detected_then_no_value_state(harness):
    h = harness([ValueDetector()])
    h.feed([(0, {"eventType": "login"})])
    assert len(h.store) == 0


def test_given_a_wide_spender_when_amount_is_far_above_their_largest_then_jump_rule_fires(harness):
    # Given a user whose amounts vary a lot (4 to 104), When they spend 1,500 (14x their largest)
    h = harness([ValueDetector()])
    rows = [
        (i * 3600.0, {"eventType": "transaction", "transactionAmount": a})
        for i, a in enumerate([14.77, 4.28, 22.61, 103.63])
    ]
    assert h.feed(rows) == []
    found = h.feed([(50_000, {"eventType": "transaction", "transactionAmount": 1505.11})])
    # Then the jump rule explains it
    assert len(found) == 1
    assert any(x.feature == "ratio_to_largest_amount" and x.observed > 10 for x in found[0].explanation)


def test_given_a_wide_spender_when_a_new_maximum_is_only_a_few_times_larger_then_quiet(harness):
    h = harness([ValueDetector()])
    rows = [
        (i * 3600.0, {"eventType": "transaction", "transactionAmount": a})
        for i, a in enumerate([14.77, 4.28, 22.61, 103.63])
    ]
    h.feed(rows)
    assert h.feed([(50_000, {"eventType": "transaction", "transactionAmount": 380.0})]) == []
