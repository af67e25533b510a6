"""The bundled price table is in the units it claims, and usage spikes are priced from it."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime

import pytest

from anomaly_guardian.pricing import ebs_gb_month, ec2_hourly, estimate_usage, lambda_invocation, money, price_table


def test_table_is_dated_and_names_its_source():
    table = price_table()
    assert date.fromisoformat(table["asOf"]) <= datetime.now(UTC).date()
    assert "aws.amazon.com/ec2/pricing" in table["source"] and "lambda/pricing" in table["source"]
    assert table["currency"] == "USD" and table["hoursPerMonth"] == 730


def test_ec2_prices_are_per_instance_hour():
    us = price_table()["ec2"]["us-east-1"]
    # A t3.micro costs about a cent an hour (not per month: ~$7.6; not per second).
    assert 0.005 < us["t3.micro"] < 0.05
    # GPU training boxes cost tens of dollars an hour.
    assert 20 < us["p4d.24xlarge"] < 60 and us["p5.48xlarge"] > us["p4d.24xlarge"]
    # Within a family, twice the size is twice the price (per-hour linear pricing), to 1 %.
    sizes = ["large", "xlarge", "2xlarge", "4xlarge"]
    for family in ("m5", "c5", "r5", "t3"):
        for small, big in itertools.pairwise(sizes):
            a, b = us.get(f"{family}.{small}"), us.get(f"{family}.{big}")
            if a and b:
                assert b == pytest.approx(2 * a, rel=0.01), (family, small, big)
    for region, types in price_table()["ec2"].items():
        assert re.fullmatch(r"[a-z]{2}-[a-z]+-\d", region)
        for name, price in types.items():
            assert re.fullmatch(r"[a-z0-9]+\.[a-z0-9]+", name) and price > 0
    # Listed regional prices agree with the region factor used for unlisted types (to 10 %: GPU families
    # carry a smaller regional premium than general purpose ones, so the factor is an approximation).
    for name, price in price_table()["ec2"]["eu-west-1"].items():
        assert price == pytest.approx(us[name] * price_table()["regionFactors"]["eu-west-1"], rel=0.10), name


def test_ebs_is_per_gb_month_and_lambda_per_gb_second_and_request():
    ebs = price_table()["ebs"]["us-east-1"]
    assert 0.05 <= ebs["gp3"] <= 0.12 and ebs["sc1"] < ebs["st1"] < ebs["gp3"] < ebs["gp2"]
    lam = price_table()["lambda"]["us-east-1"]
    # $0.0000166667 per GB-s is $0.06 per GB-hour; $0.20 per million requests.
    assert lam["gbSecond"]["x86_64"] * 3600 == pytest.approx(0.06, rel=0.01)
    assert lam["gbSecond"]["arm64"] < lam["gbSecond"]["x86_64"]
    assert lam["request"] * 1_000_000 == pytest.approx(0.20)
    # 1 GB for 1 s, once: the GB-s price plus one request.
    assert lambda_invocation(1024, 1000) == pytest.approx(0.0000166667 + 0.0000002)


def test_regions_and_unknown_types():
    assert ec2_hourly("m5.large", "eu-west-1")[0] == 0.107  # listed
    price, basis = ec2_hourly("p4d.24xlarge", "eu-central-1")  # factor
    assert price == pytest.approx(32.7726 * 1.198) and "x 1.198" in basis
    assert ec2_hourly("x9z.mega", "us-east-1") is None
    assert ebs_gb_month(None)[0] == 0.1  # CreateVolume's default type is gp2


def test_estimates_for_each_priced_api():
    gpu = estimate_usage("ec2:RunInstances:p4d", {"instanceType": "p4d.24xlarge", "awsRegion": "us-east-1"}, 8, 300)
    assert gpu.hourly == pytest.approx(8 * 32.7726) and gpu.daily == pytest.approx(8 * 32.7726 * 24, rel=1e-4)
    assert gpu.text == "about $262 per hour, $6,292 if it runs 24 h"
    vol = estimate_usage("ec2:CreateVolume", {"volumeType": "gp3", "volumeSize": 1000}, 10, 300)
    assert vol.hourly == pytest.approx(10 * 1000 * 0.08 / 730, rel=1e-3)
    lam = estimate_usage("lambda:Invoke:worker", {}, 3000, 300, lambda_memory_mb=1024, lambda_duration_ms=1000)
    # 3,000 extra per 5 min = 36,000 per hour of 1 GB-s each.
    assert lam.quantity == 36000 and lam.hourly == pytest.approx(36000 * (0.0000166667 + 0.0000002), rel=1e-3)
    assert estimate_usage("iam:CreateUser", {}, 50, 300) is None
    assert estimate_usage("ec2:RunInstances:p4d", {}, 5, 300) is None  # no type, no price
    assert estimate_usage("lambda:Invoke:x", {}, 0, 300) is None


def test_money_formatting():
    assert money(0.0123) == "$0.0123" and money(3.5) == "$3.50" and money(12345.6) == "$12,346" and money(0) == "$0"
