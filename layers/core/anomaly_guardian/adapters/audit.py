"""Audit table: one record per action attempt, plus the idempotency claims and blast-radius counters.

Audit record `pk=T#{tenant}`, `sk=AU#{ulid}`: what (action), why (reason, subject), when, result,
dryRun. Claim `sk=ACT#{subject}#{action}#{mode}`: the first writer wins, a retry sees the stored
result instead of acting again. Counter `sk=CAP#{action}#{YYYYMMDDHH}`: incremented atomically only
while below the cap, so concurrent executions can never exceed it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from anomaly_guardian.adapters.dynamodb import client, from_item, to_item
from anomaly_guardian.ids import new_ulid

AUDIT_RETENTION_DAYS = 400
STALE_CLAIM_SECONDS = 90  # > the actions Lambda timeout (60 s): an IN_PROGRESS claim this old is from a dead run


def _pk(tenant: str) -> str:
    return f"T#{tenant}"


def _failed_condition(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] == "ConditionalCheckFailedException"


class AuditLog:
    def __init__(self, table: str, ddb: Any = None):
        self.table = table
        self.ddb = ddb or client("dynamodb")

    def record(self, tenant: str, entry: Mapping[str, Any]) -> str:
        audit_id = new_ulid()
        item = dict(entry) | {
            "pk": _pk(tenant),
            "sk": f"AU#{audit_id}",
            "auditId": audit_id,
            "tenantId": tenant,
            "at": entry.get("at") or datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "ttl": int(time.time()) + AUDIT_RETENTION_DAYS * 86400,
        }
        self.ddb.put_item(TableName=self.table, Item=to_item(item))
        return audit_id

    def records(self, tenant: str, limit: int = 1000) -> list[dict[str, Any]]:
        resp = self.ddb.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
            ExpressionAttributeValues={":pk": {"S": _pk(tenant)}, ":p": {"S": "AU#"}},
            Limit=limit,
        )
        return [from_item(i) for i in resp.get("Items", [])]

    # ---- idempotency ----------------------------------------------------------------------------
    def claim(self, tenant: str, key: str, now: float | None = None) -> dict[str, Any] | None:
        """Take the claim for `key`; None when taken, else the existing claim (DONE: its result)."""
        now = time.time() if now is None else now
        item = {
            "pk": _pk(tenant),
            "sk": f"ACT#{key}",
            "status": "IN_PROGRESS",
            "claimedAt": now,
            "ttl": int(now) + 30 * 86400,
        }
        try:
            self.ddb.put_item(
                TableName=self.table,
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(pk) OR (#st = :ip AND claimedAt < :stale)",
                ExpressionAttributeNames={"#st": "status"},
                ExpressionAttributeValues={
                    ":ip": {"S": "IN_PROGRESS"},
                    ":stale": {"N": str(now - STALE_CLAIM_SECONDS)},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if _failed_condition(exc):
                return from_item(exc.response.get("Item") or {"status": {"S": "IN_PROGRESS"}})
            raise
        return None

    def complete(self, tenant: str, key: str, result: Mapping[str, Any]) -> None:
        self.ddb.update_item(
            TableName=self.table,
            Key={"pk": {"S": _pk(tenant)}, "sk": {"S": f"ACT#{key}"}},
            UpdateExpression="SET #st = :done, #res = :res",
            ExpressionAttributeNames={"#st": "status", "#res": "result"},
            ExpressionAttributeValues={":done": {"S": "DONE"}, ":res": to_item({"r": dict(result)})["r"]},
        )

    def release(self, tenant: str, key: str) -> None:
        """Drop a claim whose action failed, so the workflow's retry can try again."""
        self.ddb.delete_item(TableName=self.table, Key={"pk": {"S": _pk(tenant)}, "sk": {"S": f"ACT#{key}"}})

    # ---- blast radius ---------------------------------------------------------------------------
    def take_capacity(self, tenant: str, action: str, cap: int, now: float | None = None) -> bool:
        """Count one more `action` this hour if the count is below `cap`; False when the cap is reached."""
        now = time.time() if now is None else now
        hour = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d%H")
        try:
            self.ddb.update_item(
                TableName=self.table,
                Key={"pk": {"S": _pk(tenant)}, "sk": {"S": f"CAP#{action}#{hour}"}},
                UpdateExpression="ADD n :one SET #ttl = :ttl",
                ConditionExpression="attribute_not_exists(n) OR n < :cap",
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":cap": {"N": str(int(cap))},
                    ":ttl": {"N": str(int(now) + 2 * 86400)},
                },
            )
        except ClientError as exc:
            if _failed_condition(exc):
                return False
            raise
        return True

    def give_back(self, tenant: str, action: str, now: float | None = None) -> None:
        """Undo one `take_capacity` when the action then failed (the cap counts effects, not attempts)."""
        now = time.time() if now is None else now
        hour = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d%H")
        self.ddb.update_item(
            TableName=self.table,
            Key={"pk": {"S": _pk(tenant)}, "sk": {"S": f"CAP#{action}#{hour}"}},
            UpdateExpression="ADD n :minus",
            ExpressionAttributeValues={":minus": {"N": "-1"}},
        )
