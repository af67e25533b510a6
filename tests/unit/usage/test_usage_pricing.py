"""Usage spikes say what they cost: the anomaly carries a dollar estimate from the bundled price table."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from test_usage_detector import START, detect, invoke_record, run_instances, seasonal_invokes


def test_gpu_spike_anomaly_says_what_it_costs():
    arn = "arn:aws:iam::123456789012:user/leaked"
    records = seasonal_invokes(2, random.Random(5))
    at = START + timedelta(days=1, hours=10)
    records += [run_instances(100 + k, at + timedelta(seconds=k), "p4d.24xlarge", arn) for k in range(5)]
    anomalies = detect(records)
    priced = [a for a in anomalies if getattr(a, "costEstimate", None)]
    assert priced, [a.description for a in anomalies]
    spike = next(a for a in priced if "calls in" in a.description)
    est = spike.costEstimate
    # Priced when the spike is detected: the instances launched beyond the expected count so far
    # (calls of maxCount 4; the detector fires once the sensitive floor is passed).
    calls = spike.explanation[0]
    assert est["unit"] == "instances" and est["quantity"] == pytest.approx(calls.observed - calls.expected, abs=0.01)
    assert est["quantity"] >= 8
    assert est["hourly"] == pytest.approx(est["quantity"] * 32.7726, rel=1e-3)
    assert "per hour" in spike.description and "if it runs 24 h" in spike.description
    assert any(e.feature == "costEstimate" for e in spike.explanation)


def test_lambda_loop_anomaly_is_priced_with_typical_duration():
    records = seasonal_invokes(3, random.Random(11))
    loop = START + timedelta(days=3, hours=3)
    records += [invoke_record(10_000_000 + k, loop + timedelta(seconds=k * 0.25)) for k in range(2400)]
    first = detect(records)[0]
    assert first.costEstimate["unit"] == "invocations per hour"
    assert "typical duration" in first.costEstimate["basis"] and first.costEstimate["hourly"] > 0
