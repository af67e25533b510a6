"""Dollar impact of usage spikes, priced from a bundled, dated on-demand price table (prices.json).

Pure: no AWS calls. The table names its source and date (`source`, `asOf`); figures are list prices
(no discounts, Spot, free tier or tax), so an estimate is an order of magnitude for an analyst deciding
how fast to act, hours before Cost Explorer notices. Types a region does not list are priced at the
us-east-1 price times the region's factor, and the estimate says so (`basis`).

- EC2: instances launched beyond the expected count x hourly price (they keep running once started).
- EBS: volumes created beyond the expected count x size (GB) x GB-month price / 730.
- Lambda: invocations beyond the expected rate x (typical duration x memory x GB-s price + request price).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

BASE_REGION = "us-east-1"
DEFAULT_VOLUME_TYPE = "gp2"  # what CreateVolume makes when volumeType is omitted
DEFAULT_VOLUME_GB = 8


@lru_cache(maxsize=1)
def price_table() -> dict[str, Any]:
    return json.loads(resources.files(__package__).joinpath("prices.json").read_text("utf-8"))


def _region_factor(region: str | None) -> float | None:
    return price_table()["regionFactors"].get(region or BASE_REGION)


def ec2_hourly(instance_type: str, region: str | None = None) -> tuple[float, str] | None:
    """(USD per instance-hour, basis) or None when the type is not in the table."""
    table = price_table()["ec2"]
    region = region or BASE_REGION
    listed = table.get(region, {}).get(instance_type)
    if listed is not None:
        return float(listed), f"{instance_type} on-demand in {region}"
    base = table[BASE_REGION].get(instance_type)
    factor = _region_factor(region)
    if base is None:
        return None
    if factor is None:
        return float(base), f"{instance_type} on-demand in {BASE_REGION} ({region} not in the table)"
    return float(base) * factor, f"{instance_type} on-demand in {BASE_REGION} x {factor} for {region}"


def ebs_gb_month(volume_type: str | None, region: str | None = None) -> tuple[float, str] | None:
    vt = volume_type or DEFAULT_VOLUME_TYPE
    base = price_table()["ebs"][BASE_REGION].get(vt)
    if base is None:
        return None
    factor = _region_factor(region) or 1.0
    return float(base) * factor, f"EBS {vt} per GB-month in {BASE_REGION} x {factor}"


def lambda_invocation(memory_mb: float, duration_ms: float, architecture: str = "x86_64") -> float:
    """USD for one invocation of `memory_mb` running `duration_ms` (us-east-1 list price)."""
    prices = price_table()["lambda"][BASE_REGION]
    gb_seconds = (memory_mb / 1024.0) * (duration_ms / 1000.0)
    return gb_seconds * float(prices["gbSecond"][architecture]) + float(prices["request"])


@dataclass(frozen=True)
class CostEstimate:
    hourly: float  # USD per hour while the spike's rate (or the launched resources) persists
    daily: float  # USD if it runs 24 h
    basis: str  # what was priced, how
    quantity: float  # instances / volumes / invocations per hour priced
    unit: str
    source: str
    asOf: str

    @property
    def text(self) -> str:
        return f"about {money(self.hourly)} per hour, {money(self.daily)} if it runs 24 h"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"currency": "USD", "text": self.text}


def money(amount: float) -> str:
    if amount >= 100:
        return f"${amount:,.0f}"
    if amount >= 1:
        return f"${amount:,.2f}"
    return f"${amount:.4f}".rstrip("0").rstrip(".") if amount > 0 else "$0"


def _estimate(hourly: float, basis: str, quantity: float, unit: str) -> CostEstimate:
    table = price_table()
    return CostEstimate(
        hourly=round(hourly, 4),
        daily=round(hourly * 24, 2),
        basis=basis,
        quantity=round(quantity, 2),
        unit=unit,
        source=table["source"].split(":", 1)[0],
        asOf=table["asOf"],
    )


def estimate_usage(
    api: str,
    metadata: Mapping[str, Any],
    excess: float,
    bucket_seconds: int,
    *,
    lambda_memory_mb: float = 512,
    lambda_duration_ms: float = 1000,
) -> CostEstimate | None:
    """Price `excess` calls of `api` above the expected count in one bucket; None when not priceable."""
    if excess <= 0:
        return None
    region = metadata.get("awsRegion") or BASE_REGION
    if api.startswith("ec2:RunInstances"):
        instance_type = metadata.get("instanceType")
        priced = ec2_hourly(str(instance_type), region) if instance_type else None
        if priced is None:
            return None
        price, basis = priced
        return _estimate(excess * price, f"{excess:g} x {basis} at ${price:.4f}/h", excess, "instances")
    if api == "ec2:CreateVolume":
        priced = ebs_gb_month(metadata.get("volumeType"), region)
        if priced is None:
            return None
        price, basis = priced
        size = float(metadata.get("volumeSize") or DEFAULT_VOLUME_GB)
        hourly = excess * size * price / float(price_table()["hoursPerMonth"])
        return _estimate(hourly, f"{excess:g} volumes x {size:g} GB x {basis}", excess, "volumes")
    if api.startswith("lambda:Invoke"):
        per_hour = excess * 3600.0 / bucket_seconds
        each = lambda_invocation(lambda_memory_mb, lambda_duration_ms)
        basis = (
            f"{per_hour:,.0f} extra invocations/h x {lambda_duration_ms:g} ms x {lambda_memory_mb:g} MB "
            "(typical duration and memory, not measured) at Lambda list price"
        )
        return _estimate(per_hour * each, basis, per_hour, "invocations per hour")
    return None
