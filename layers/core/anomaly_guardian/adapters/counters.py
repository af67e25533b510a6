"""Per-tenant hourly counters the detector writes and the reports read (Audit table, beside the
blast-radius counters `CAP#...`).

Keys: `pk` = `T#{tenant}`, `sk` = `CNT#{YYYYMMDDHH}` (UTC hour of detection), attrs `events` (events run
through the pipeline for the first time: redeliveries the dedupe skips are not counted), `anomalies`,
`errors` (events isolated into the DLQ), `ttl` (400 days). And `pk` = `T#_system` (no tenant id can start
with `_`), `sk` = `TENANTS#{YYYYMMDD}`: string set `tenants` active that day, so the scheduled report knows
whose reports to write without a Scan.
One UpdateItem ADD per tenant per Kinesis batch plus one for the day's tenant set: a few WCU per batch,
not per event. Written after the tenant's events are committed; a crash in between can undercount (never
overcount) by that batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from anomaly_guardian.adapters.dynamodb import batch_get, client, from_item

COUNTER_TTL_SECONDS = 400 * 86400


def hour_key(tenant: str, at: datetime) -> dict[str, dict[str, str]]:
    return {"pk": {"S": f"T#{tenant}"}, "sk": {"S": f"CNT#{at.astimezone(UTC):%Y%m%d%H}"}}


def tenants_key(day: datetime) -> dict[str, dict[str, str]]:
    return {"pk": {"S": "T#_system"}, "sk": {"S": f"TENANTS#{day.astimezone(UTC):%Y%m%d}"}}


class TenantCounters:
    def __init__(self, table: str, ddb: Any = None):
        self.table = table
        self._ddb = ddb

    @property
    def ddb(self) -> Any:
        if self._ddb is None:
            self._ddb = client("dynamodb")
        return self._ddb

    def add(self, tenant: str, at: datetime, events: int, anomalies: int, errors: int = 0) -> None:
        ttl = int(at.timestamp()) + COUNTER_TTL_SECONDS
        self.ddb.update_item(
            TableName=self.table,
            Key=hour_key(tenant, at),
            UpdateExpression="ADD events :e, anomalies :a, errors :x SET #t = :ttl",
            ExpressionAttributeNames={"#t": "ttl"},
            ExpressionAttributeValues={
                ":e": {"N": str(events)},
                ":a": {"N": str(anomalies)},
                ":x": {"N": str(errors)},
                ":ttl": {"N": str(ttl)},
            },
        )
        self.ddb.update_item(
            TableName=self.table,
            Key=tenants_key(at),
            UpdateExpression="ADD tenants :t SET #t = :ttl",
            ExpressionAttributeNames={"#t": "ttl"},
            ExpressionAttributeValues={":t": {"SS": [tenant]}, ":ttl": {"N": str(ttl)}},
        )

    def totals(self, tenants: Iterable[str], start: datetime, end: datetime) -> dict[str, int]:
        """Summed counters of `tenants` over the hours in [start, end) (one BatchGetItem per 100 hours)."""
        hours, t = [], start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        while t < end:
            hours.append(t)
            t += timedelta(hours=1)
        keys = [hour_key(tenant, h) for tenant in tenants for h in hours]
        out = {"events": 0, "anomalies": 0, "errors": 0, "hours": 0}
        for item in batch_get(self.ddb, self.table, keys) if keys else []:
            data = from_item(item)
            out["hours"] += 1
            for k in ("events", "anomalies", "errors"):
                out[k] += int(data.get(k, 0))
        return out

    def active_tenants(self, start: datetime, end: datetime) -> list[str]:
        days, d = [], start.astimezone(UTC)
        while d < end:
            days.append(tenants_key(d))
            d += timedelta(days=1)
        found: set[str] = set()
        for item in batch_get(self.ddb, self.table, days):
            found |= set(from_item(item).get("tenants") or [])
        return sorted(found)
