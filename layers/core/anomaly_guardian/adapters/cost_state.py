"""Cost anomaly bookkeeping in the Config table: the GetAnomalies cursor and one marker per Cost Explorer
anomaly id (what makes the scheduled run idempotent).

Keys: pk `T#{tenant}`; sk `COST#CURSOR` (`lastEnd` = the EndDate of the last complete run, `lastRunAt`)
and `COST#A#{costAnomalyId}` (`anomalyId`, `status` BELOW | PENDING | DONE, `totalImpact`, TTL `ttl`).
A marker goes PENDING (conditional: nobody else claimed it) before the anomaly is stored and dispatched,
and DONE after; a run that died in between finds PENDING and repeats the same anomaly id, which the
anomalies table and the correlator treat as the same anomaly.
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from anomaly_guardian.adapters.dynamodb import client, from_item, to_item

CURSOR = "COST#CURSOR"
MARKER = "COST#A#"
MARKER_TTL_SECONDS = 400 * 86400


def _pk(tenant: str) -> str:
    return f"T#{tenant}"


class CostStateRepository:
    def __init__(self, table: str, ddb: Any = None):
        self.table = table
        self.ddb = ddb or client("dynamodb")

    def _get(self, tenant: str, sk: str) -> dict[str, Any] | None:
        resp = self.ddb.get_item(
            TableName=self.table, Key={"pk": {"S": _pk(tenant)}, "sk": {"S": sk}}, ConsistentRead=True
        )
        return from_item(resp["Item"]) if "Item" in resp else None

    def cursor(self, tenant: str) -> dict[str, Any]:
        return self._get(tenant, CURSOR) or {}

    def put_cursor(self, tenant: str, last_end: str, run_at: str) -> None:
        self.ddb.put_item(
            TableName=self.table,
            Item=to_item({"pk": _pk(tenant), "sk": CURSOR, "lastEnd": last_end, "lastRunAt": run_at}),
        )

    def marker(self, tenant: str, cost_anomaly_id: str) -> dict[str, Any] | None:
        return self._get(tenant, MARKER + cost_anomaly_id)

    def put_marker(
        self, tenant: str, cost_anomaly_id: str, status: str, total_impact: float, anomaly_id: str | None = None
    ) -> bool:
        """Write the marker; PENDING only if no run has claimed (PENDING/DONE) it. False when someone had."""
        item = {
            "pk": _pk(tenant),
            "sk": MARKER + cost_anomaly_id,
            "status": status,
            "totalImpact": total_impact,
            "ttl": int(time.time()) + MARKER_TTL_SECONDS,
        }
        if anomaly_id:
            item["anomalyId"] = anomaly_id
        kwargs: dict[str, Any] = {"TableName": self.table, "Item": to_item(item)}
        if status == "PENDING":
            kwargs["ConditionExpression"] = "attribute_not_exists(sk) OR #s = :below"
            kwargs["ExpressionAttributeNames"] = {"#s": "status"}
            kwargs["ExpressionAttributeValues"] = {":below": {"S": "BELOW"}}
        try:
            self.ddb.put_item(**kwargs)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True
