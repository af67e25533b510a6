"""BlockList table, write side: IP/user blocks, transaction holds and per-user flags.

Keys (docs/internals.md): `pk=T#{tenant}`; `sk=IP#{ip}` / `USER#{userId}` (blocks consulted by
POST /events), `HOLD#{eventId}` (held transactions), `FLAG#stepup#{userId}` and
`FLAG#monitor#{entity}` (what the customer's app and the detector query). Every item carries
`expiresAt` (epoch seconds; readers must treat an item past it as absent) and `ttl` one day
later, so the block_expiry sweep always sees an expired block before DynamoDB deletes it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from typing import Any

from anomaly_guardian.adapters.dynamodb import client, from_item, to_item

TTL_GRACE_SECONDS = 86400


class BlockListAdmin:
    def __init__(self, table: str, ddb: Any = None):
        self.table = table
        self.ddb = ddb or client("dynamodb")

    def put(self, tenant: str, sk: str, expires_at: int, attrs: Mapping[str, Any]) -> None:
        """Create or extend an entry (a later expiry wins: re-blocking never shortens a block)."""
        item = dict(attrs) | {
            "pk": f"T#{tenant}",
            "sk": sk,
            "tenantId": tenant,
            "expiresAt": int(expires_at),
            "ttl": int(expires_at) + TTL_GRACE_SECONDS,
        }
        # An existing entry that already lasts longer is kept as it is.
        with contextlib.suppress(self.ddb.exceptions.ConditionalCheckFailedException):
            self.ddb.put_item(
                TableName=self.table,
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(pk) OR expiresAt <= :e",
                ExpressionAttributeValues={":e": {"N": str(int(expires_at))}},
            )

    def get(self, tenant: str, sk: str) -> dict[str, Any] | None:
        resp = self.ddb.get_item(
            TableName=self.table, Key={"pk": {"S": f"T#{tenant}"}, "sk": {"S": sk}}, ConsistentRead=True
        )
        return from_item(resp["Item"]) if "Item" in resp else None

    def update(self, tenant: str, sk: str, attrs: Mapping[str, Any]) -> None:
        names = {f"#a{i}": k for i, k in enumerate(attrs)}
        values = {f":v{i}": v for i, v in enumerate(attrs.values())}
        self.ddb.update_item(
            TableName=self.table,
            Key={"pk": {"S": f"T#{tenant}"}, "sk": {"S": sk}},
            UpdateExpression="SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(attrs))),
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_item(values),
        )

    def delete(self, tenant: str, sk: str, expires_at: int | None = None) -> bool:
        """Remove an entry; with `expires_at`, only if it was not extended meanwhile."""
        kwargs: dict[str, Any] = {}
        if expires_at is not None:
            kwargs = {
                "ConditionExpression": "expiresAt = :e",
                "ExpressionAttributeValues": {":e": {"N": str(expires_at)}},
            }
        try:
            self.ddb.delete_item(TableName=self.table, Key={"pk": {"S": f"T#{tenant}"}, "sk": {"S": sk}}, **kwargs)
        except self.ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def erase_user(self, tenant: str, user_pseudonym: str) -> int:
        """GDPR erasure: the user's block and flags (holds are keyed by event and expire on their own)."""
        keys = (f"USER#{user_pseudonym}", f"FLAG#stepup#{user_pseudonym}", f"FLAG#monitor#{user_pseudonym}")
        return sum(self.delete(tenant, sk) for sk in keys if self.get(tenant, sk))

    def scan_blocks(self) -> Iterator[dict[str, Any]]:
        """Every IP block of every tenant (the sweep; block lists are capped, so small)."""
        paginator = self.ddb.get_paginator("scan")
        for page in paginator.paginate(
            TableName=self.table,
            FilterExpression="begins_with(sk, :ip)",
            ExpressionAttributeValues={":ip": {"S": "IP#"}},
            ConsistentRead=True,
        ):
            for item in page.get("Items", []):
                yield from_item(item)

    def scan_expired(self, now: float | None = None, prefixes: tuple[str, ...] = ("IP#", "USER#", "FLAG#", "HOLD#")):
        now = time.time() if now is None else now
        paginator = self.ddb.get_paginator("scan")
        for page in paginator.paginate(
            TableName=self.table,
            FilterExpression="expiresAt <= :now",
            ExpressionAttributeValues={":now": {"N": str(int(now))}},
            ConsistentRead=True,
        ):
            for item in page.get("Items", []):
                data = from_item(item)
                if data["sk"].startswith(prefixes):
                    yield data
