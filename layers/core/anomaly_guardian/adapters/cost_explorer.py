"""Cost Explorer (`ce`): GetAnomalies, paged with NextPageToken over a date window, every monitor."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

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
