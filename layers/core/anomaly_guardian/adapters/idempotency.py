"""Batched event dedupe for the detector, in the Powertools idempotency table (`IDEMPOTENCY_TABLE`).

Why not Powertools `@idempotent_function` per record: it costs a conditional PutItem plus an
UpdateItem per record, sequentially (about 2,000 round trips for a 1,000-record batch), and it wraps
one record at a time while the pipeline runs once per tenant per batch. Here a batch costs one
BatchGetItem per 100 events (skip what is already done) and one BatchWriteItem per 25 events (mark
what just completed), on the same table schema: `id` (key), `expiration` (TTL), `status`
(`COMPLETED`, or `PENDING` with `anomalies`: the event's state update is committed, its anomalies -
a JSON list - still have to be stored and handed to the response; see detection/batch.py).

Keys: `{tenant}#{eventId}` for events, `_poison#{kinesis eventID}` for records already kept in the DLQ.
Markers expire after `DEDUPE_TTL_HOURS` (default 168 = 7 days); keep it >= the stream's retention.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from anomaly_guardian.adapters.dynamodb import batch_get, batch_write, client

DEFAULT_TTL_HOURS = 168


class DynamoDBEventDedupe:
    def __init__(self, table_name: str, *, ddb: Any = None, ttl_hours: int = DEFAULT_TTL_HOURS) -> None:
        self.table = table_name
        self._ddb = ddb
        self.ttl_seconds = int(ttl_hours) * 3600

    @property
    def ddb(self) -> Any:
        if self._ddb is None:
            self._ddb = client("dynamodb")
        return self._ddb

    def seen(self, ids: Iterable[str]) -> dict[str, str | None]:
        keys = [{"id": {"S": i}} for i in dict.fromkeys(ids)]
        if not keys:
            return {}
        now = int(time.time())
        items = batch_get(
            self.ddb, self.table, keys, projection="id, expiration, #s, anomalies", names={"#s": "status"}
        )
        out: dict[str, str | None] = {}
        for item in items:
            if int(item.get("expiration", {}).get("N", now + 1)) <= now:
                continue  # expired but not swept yet
            pending = item.get("status", {}).get("S") == "PENDING"
            out[item["id"]["S"]] = item.get("anomalies", {}).get("S", "[]") if pending else None
        return out

    def mark(self, done: Iterable[str], pending: Mapping[str, str] | None = None) -> None:
        expiration = {"N": str(int(time.time()) + self.ttl_seconds)}
        requests = [
            {"PutRequest": {"Item": {"id": {"S": i}, "expiration": expiration, "status": {"S": "COMPLETED"}}}}
            for i in dict.fromkeys(done)
        ]
        requests += [
            {
                "PutRequest": {
                    "Item": {
                        "id": {"S": i},
                        "expiration": expiration,
                        "status": {"S": "PENDING"},
                        "anomalies": {"S": doc},
                    }
                }
            }
            for i, doc in (pending or {}).items()
        ]
        if requests:
            batch_write(self.ddb, self.table, requests)
