"""Read side of the BlockList table (docs/internals.md): consulted by POST /events.

Items: `pk`=`T#{tenant}`, `sk`=`IP#{ip}` (the address as sent; WAF needs the real address anyway) or
`USER#{userPseudonym}` (anomalies only know pseudonyms). `ttl` (epoch seconds) is the expiry: DynamoDB
deletes expired items lazily (up to days later), so an item whose `ttl`/`expiresAt` has passed is
treated as not blocking. One BatchGetItem (eventually consistent; 100 keys per call) per request.
The detector reads `FLAG#monitor#{userPseudonym}` the same way (`monitor_flags`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from anomaly_guardian.adapters.dynamodb import batch_get, client


def _expired(item: dict[str, Any], now: float) -> bool:
    ttl = item.get("ttl", {}).get("N")
    if ttl is not None and float(ttl) <= now:
        return True
    expires = item.get("expiresAt", {})
    if "N" in expires:
        return float(expires["N"]) <= now
    if "S" in expires:
        try:
            return datetime.fromisoformat(expires["S"].replace("Z", "+00:00")).timestamp() <= now
        except ValueError:
            return False  # unparseable expiry: keep blocking (fail closed)
    return False


class DynamoDBBlockList:
    def __init__(self, table_name: str, *, ddb: Any = None, clock: Callable[[], float] = time.time) -> None:
        self.table = table_name
        self._ddb = ddb
        self.clock = clock

    @property
    def ddb(self) -> Any:
        if self._ddb is None:
            self._ddb = client("dynamodb")
        return self._ddb

    def blocked(self, tenant: str, ips: set[str], users: set[str]) -> set[tuple[str, str]]:
        pk = {"S": f"T#{tenant}"}
        keys = [{"pk": pk, "sk": {"S": f"IP#{ip}"}} for ip in sorted(ips)]
        keys += [{"pk": pk, "sk": {"S": f"USER#{u}"}} for u in sorted(users)]
        if not keys:
            return set()
        now = self.clock()
        items = batch_get(
            self.ddb,
            self.table,
            keys,
            projection="sk, #t, expiresAt",
            names={"#t": "ttl"},
            consistent=False,
        )
        out = set()
        for item in items:
            if _expired(item, now):
                continue
            kind, _, value = item["sk"]["S"].partition("#")
            out.add((kind, value))
        return out

    def monitor_flags(self, tenant: str, users: set[str]) -> dict[str, tuple[float, int]]:
        """Enhanced-monitoring flags of these user pseudonyms: {user: (thresholdFactor, expiresAt)}.
        One BatchGetItem; items past their expiry are left out."""
        if not users:
            return {}
        pk = {"S": f"T#{tenant}"}
        keys = [{"pk": pk, "sk": {"S": f"FLAG#monitor#{u}"}} for u in sorted(users)]
        items = batch_get(
            self.ddb,
            self.table,
            keys,
            projection="sk, #t, expiresAt, thresholdFactor",
            names={"#t": "ttl"},
            consistent=False,
        )
        now = self.clock()
        out = {}
        for item in items:
            if _expired(item, now):
                continue
            try:
                factor = float(item["thresholdFactor"]["N"])
            except (KeyError, ValueError):
                continue
            expires = item.get("expiresAt", {}).get("N")
            out[item["sk"]["S"].removeprefix("FLAG#monitor#")] = (factor, int(float(expires)) if expires else 0)
        return out
