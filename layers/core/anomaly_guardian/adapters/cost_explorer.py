"""Cost Explorer (`ce`): GetAnomalies, paged with NextPageToken over a date window, every monitor."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from anomaly_guardian.adapters.capacity import why
from anomaly_guardian.adapters.dynamodb import client

PAGE_SIZE = 100


class CostExplorer:
    def __init__(self, ce: Any = None, monitor_arn: str | None = None):
        # Cost Explorer is served from us-east-1 whatever the function's region.
        self.ce = ce or client("ce", "us-east-1")
        self.monitor_arn = monitor_arn or None

    def anomalies(self, start: str, end: str) -> Iterator[dict[str, Any]]:
        """Every anomaly whose end date falls in [start, end] (YYYY-MM-DD), across pages."""
        kwargs: dict[str, Any] = {"DateInterval": {"StartDate": start, "EndDate": end}, "MaxResults": PAGE_SIZE}
        if self.monitor_arn:
            kwargs["MonitorArn"] = self.monitor_arn
        while True:
            resp = self.ce.get_anomalies(**kwargs)
            yield from resp.get("Anomalies", [])
            token = resp.get("NextPageToken")
            if not token:
                return
            kwargs["NextPageToken"] = token


class SystemCost:
    """What the stack itself cost over a period: GetCostAndUsage (UnblendedCost, MONTHLY, by SERVICE)
    filtered to the stack's tags. The tags must be activated as cost allocation tags in Billing (Terraform
    `aws_ce_cost_allocation_tag`), or Cost Explorer returns nothing for them. Each call costs $0.01, so
    only the monthly admin report asks."""

    def __init__(self, tags: dict[str, str], ce: Any = None):
        self.tags = dict(tags)
        self.ce = ce or client("ce", "us-east-1")

    def _filter(self) -> dict[str, Any]:
        parts = [{"Tags": {"Key": k, "Values": [v], "MatchOptions": ["EQUALS"]}} for k, v in sorted(self.tags.items())]
        return parts[0] if len(parts) == 1 else {"And": parts}

    def read(self, start: str, end: str) -> dict[str, Any]:
        """[start, end) (YYYY-MM-DD, end exclusive as Cost Explorer takes it) -> total and per-service USD."""
        kwargs: dict[str, Any] = {
            "TimePeriod": {"Start": start, "End": end},
            "Granularity": "MONTHLY",
            "Metrics": ["UnblendedCost"],
            "GroupBy": [{"Type": "DIMENSION", "Key": "SERVICE"}],
            "Filter": self._filter(),
        }
        by_service: dict[str, float] = {}
        units, estimated, periods = set(), False, 0
        while True:
            try:
                resp = self.ce.get_cost_and_usage(**kwargs)
            except (ClientError, BotoCoreError) as exc:  # Cost Explorer off or denied: the report still goes out
                return {"value": None, "reason": f"Cost Explorer GetCostAndUsage failed: {why(exc)}"}
            for result in resp.get("ResultsByTime", []):
                periods += 1
                estimated = estimated or bool(result.get("Estimated"))
                for group in result.get("Groups", []):
                    cost = group["Metrics"]["UnblendedCost"]
                    units.add(cost.get("Unit", "USD"))
                    name = group["Keys"][0]
                    by_service[name] = by_service.get(name, 0.0) + float(cost["Amount"])
            token = resp.get("NextPageToken")
            if not token:
                break
            kwargs["NextPageToken"] = token
        source = f"Cost Explorer GetCostAndUsage (UnblendedCost) for tags {self.tags}"
        if not periods:
            return {"value": None, "reason": "Cost Explorer returned no data for the stack's tags", "source": source}
        services = sorted(by_service.items(), key=lambda kv: -kv[1])
        return {
            "totalUsd": round(sum(by_service.values()), 2),
            "currency": "/".join(sorted(units)) or "USD",
            "estimated": estimated,
            "byService": [{"service": s, "usd": round(v, 2)} for s, v in services if round(v, 2)],
            "tags": self.tags,
            "source": source,
        }
