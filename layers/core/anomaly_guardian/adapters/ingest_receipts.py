"""What POST /events already accepted under each eventId (`ingest.service.Receipts`), in `IDEMPOTENCY_TABLE`.

Items: `id`=`_ingest#{tenant}#{eventId}`, `payload` (a keyed digest of the event as sent,
`Pseudonymiser.payload`), `expiration` (TTL, epoch seconds; `DEDUPE_TTL_HOURS`, the detector's dedupe
window). The detector's own markers (`{tenant}#{eventId}`, `_poison#...`) live in the same table under
other keys; the ingest function's policy is limited to keys starting `_ingest#`.

Per request: one strongly consistent BatchGetItem per 100 events before anything is sent (so a retry
right after a 503 sees what landed), one BatchWriteItem per 25 events that landed (best effort, on
`write_ddb`: the wiring gives it a one-attempt client).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from anomaly_guardian.adapters.dynamodb import batch_get, batch_write, client

DEFAULT_TTL_HOURS = 168
PREFIX = "_ingest#"


def receipt_key(tenant: str, event_id: str) -> str:
    return f"{PREFIX}{tenant}#{event_id}"


class DynamoDBIngestReceipts:
    def __init__(
        self,
        table_name: str,
        *,
        ddb: Any = None,
        write_ddb: Any = None,
        ttl_hours: int = DEFAULT_TTL_HOURS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table = table_name
        self._ddb = ddb
        self._write_ddb = write_ddb
        self.ttl_seconds = int(ttl_hours) * 3600
        self.clock = clock

    @property
    def ddb(self) -> Any:
        if self._ddb is None:
            self._ddb = client("dynamodb")
        return self._ddb

    @property
    def write_ddb(self) -> Any:
        return self._write_ddb or self.ddb

    def previous(self, tenant: str, event_ids: Iterable[str]) -> dict[str, str]:
        """{eventId: payload digest} of the given ids accepted within the TTL (expired, unswept items left out)."""
        keys = [{"id": {"S": receipt_key(tenant, i)}} for i in dict.fromkeys(event_ids)]
        if not keys:
            return {}
        now = self.clock()
        items = batch_get(self.ddb, self.table, keys, projection="id, payload, expiration", consistent=True)
        prefix = receipt_key(tenant, "")
        out = {}
        for item in items:
            expiration = item.get("expiration", {}).get("N")
            if expiration is not None and float(expiration) <= now:
                continue
            digest = item.get("payload", {}).get("S")
            if digest is not None:
                out[item["id"]["S"].removeprefix(prefix)] = digest
        return out

    def record(self, tenant: str, digests: Mapping[str, str]) -> None:
        """Remember these events (eventId -> payload digest) as accepted."""
        expiration = {"N": str(int(self.clock()) + self.ttl_seconds)}
        requests = [
            {
                "PutRequest": {
                    "Item": {
                        "id": {"S": receipt_key(tenant, event_id)},
                        "payload": {"S": digest},
                        "expiration": expiration,
                    }
                }
            }
            for event_id, digest in digests.items()
        ]
        if requests:
            batch_write(self.write_ddb, self.table, requests)
