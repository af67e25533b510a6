"""Per-tenant calibration histograms in the State table (detection.calibration explains the statistic).

Keys: `pk` = `{tenant}#cal#{statistic}#{YYYYMMDD}` (UTC day of the write), attributes `b0`..`b47` (counts),
TTL `ttl` (WINDOW_DAYS + 1 days). Every writer (any shard, any container) adds its batch's counts with one
UpdateItem ADD: additions commute, so concurrent shards never conflict and nothing is read-modify-written.
Reads merge the last WINDOW_DAYS days (one BatchGetItem per tenant) and are cached per tenant for
CACHE_SECONDS. Calibration is advisory: a failed read or write logs a warning and detection goes on with
what it had (the seed cut-offs at worst).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from anomaly_guardian.adapters.dynamodb import batch_get, client, from_item
from anomaly_guardian.detection.builtin import BUILTINS
from anomaly_guardian.detection.calibration import BINS, EVENTS, STATISTICS, merge, score_statistic

WINDOW_DAYS = 7
# The event count and the score histogram of each built-in detector: read only for tenants with an alert budget
# (4 statistics x 7 days = 28 keys per read otherwise, 84 with them).
BUDGET_NAMES = (EVENTS, *sorted({score_statistic(s.section) for s in BUILTINS.values()}))
CACHE_SECONDS = 60.0


def calibration_key(tenant: str, statistic: str, day: datetime) -> str:
    return f"{tenant}#cal#{statistic}#{day.astimezone(UTC):%Y%m%d}"


class DynamoDBCalibration:
    def __init__(
        self,
        table: str,
        ddb: Any = None,
        clock: Callable[[], float] = time.time,
        logger: Any = None,
    ) -> None:
        self.table = table
        self._ddb = ddb
        self._clock = clock
        self._logger = logger
        self._cache: dict[tuple[str, bool], tuple[float, dict[str, list[int]]]] = {}
        self._lock = threading.Lock()

    @property
    def ddb(self) -> Any:
        if self._ddb is None:
            self._ddb = client("dynamodb")
        return self._ddb

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def histograms(self, tenant: str, budgets: bool = False) -> dict[str, list[int]]:
        now = self._clock()
        names = (*STATISTICS, *BUDGET_NAMES) if budgets else STATISTICS
        hit = self._cache.get((tenant, budgets))
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        today = self._now()
        keys = [
            {"pk": {"S": calibration_key(tenant, s, today - timedelta(days=d))}}
            for s in names
            for d in range(WINDOW_DAYS)
        ]
        found: dict[str, list[int]] = {}
        try:
            for raw in batch_get(self.ddb, self.table, keys):
                item = from_item(raw)
                statistic = str(item["pk"]).split("#")[2]
                counts = [int(item.get(f"b{i}", 0)) for i in range(BINS)]
                found[statistic] = merge(found.get(statistic, [0] * BINS), counts)
        except Exception as exc:  # advisory: keep the last known histograms (or none: the seeds)
            if self._logger:
                self._logger.warning("calibration unreadable", extra={"error": type(exc).__name__})
            found = hit[1] if hit is not None else {}
        with self._lock:
            self._cache[(tenant, budgets)] = (now, found)
        return found

    def add(self, tenant: str, statistic: str, counts: Sequence[int]) -> None:
        bins = [(i, int(c)) for i, c in enumerate(counts[:BINS]) if c]
        if not bins:
            return
        now = self._now()
        values = {f":c{i}": {"N": str(c)} for i, c in bins}
        values[":ttl"] = {"N": str(int(now.timestamp()) + (WINDOW_DAYS + 1) * 86400)}
        try:
            self.ddb.update_item(
                TableName=self.table,
                Key={"pk": {"S": calibration_key(tenant, statistic, now)}},
                UpdateExpression="ADD " + ", ".join(f"b{i} :c{i}" for i, _ in bins) + " SET #ttl = :ttl",
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues=values,
            )
        except Exception as exc:
            if self._logger:
                self._logger.warning("calibration not stored", extra={"error": type(exc).__name__})
            return
        with self._lock:  # this container sees its own additions before the cache expires
            for key in ((tenant, False), (tenant, True)):
                cached = self._cache.get(key)
                if cached is not None and (key[1] or statistic in STATISTICS):
                    data = dict(cached[1])
                    data[statistic] = merge(data.get(statistic, [0] * BINS), counts)
                    self._cache[key] = (cached[0], data)


__all__ = ["DynamoDBCalibration", "calibration_key"]
