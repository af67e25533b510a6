"""Incidents table: incidents (`I#{ulid}`), their entity index items and manual-review records.

Keys (docs/internals.md): incident `pk=T#{tenant}`, `sk=I#{incidentId}`; entity index
`pk=T#{tenant}#E#{kind}#{value}`, `sk=I#{incidentId}` (newest incident per entity is the last
sort key, since incident ids are ULIDs); review `pk=T#{tenant}`, `sk=R#{reviewId}`.
Incident writes are conditional on `version`, so two correlators racing on one incident cannot
lose a member: the loser gets `ConcurrentUpdate` and retries.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from anomaly_guardian.adapters.dynamodb import batch_get, client, from_item, to_attr, to_item
from anomaly_guardian.response.correlation import DEFAULT_WINDOW_SECONDS, ConcurrentUpdate, Incident

INCIDENT_RETENTION_DAYS = 400
AWS_INDEX_EXTRA_SECONDS = 14 * 86400


class NotFound(LookupError):
    pass


def _pk(tenant: str) -> str:
    return f"T#{tenant}"


def _entity_pk(tenant: str, kind: str, value: str) -> str:
    return f"T#{tenant}#E#{kind}#{value}"


def encode_token(key: Mapping[str, Any] | None) -> str | None:
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode() if key else None


def decode_token(token: str | None, tenant: str) -> dict[str, Any] | None:
    if not token:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError):
        raise ValueError("Invalid nextToken") from None
    # A token minted for another tenant must not page through this tenant's partition.
    if not isinstance(key, dict) or key.get("pk", {}).get("S") != _pk(tenant):
        raise ValueError("Invalid nextToken")
    return key


class IncidentRepository:
    def __init__(self, table: str, ddb: Any = None):
        self.table = table
        self.ddb = ddb or client("dynamodb")

    # ---- correlation ----------------------------------------------------------------------------
    def candidates(self, tenant: str, entities: Mapping[str, str]) -> list[Incident]:
        """The newest incident each entity points at (one Query per entity, one BatchGet)."""
        ids: set[str] = set()
        for kind, value in entities.items():
            resp = self.ddb.query(
                TableName=self.table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :i)",
                ExpressionAttributeValues={":pk": {"S": _entity_pk(tenant, kind, value)}, ":i": {"S": "I#"}},
                ScanIndexForward=False,
                Limit=1,
                ConsistentRead=True,
            )
            ids.update(from_item(item)["sk"] for item in resp.get("Items", []))
        if not ids:
            return []
        keys = [{"pk": {"S": _pk(tenant)}, "sk": {"S": sk}} for sk in sorted(ids)]
        return [Incident.from_item(from_item(item)) for item in batch_get(self.ddb, self.table, keys)]

    def save(self, incident: Incident, window_seconds: int = DEFAULT_WINDOW_SECONDS) -> None:
        """Write the incident if its version is unchanged, then its entity index items."""
        expected = incident.version
        incident.version = expected + 1
        item = incident.to_item() | {
            "pk": _pk(incident.tenantId),
            "sk": f"I#{incident.incidentId}",
            "ttl": int(time.time()) + INCIDENT_RETENTION_DAYS * 86400,
        }
        condition = "attribute_not_exists(pk)" if expected == 0 else "version = :v"
        kwargs: dict[str, Any] = {"ConditionExpression": condition}
        if expected:
            kwargs["ExpressionAttributeValues"] = {":v": {"N": str(expected)}}
        try:
            self.ddb.put_item(TableName=self.table, Item=to_item(item), **kwargs)
        except ClientError as exc:
            incident.version = expected
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise ConcurrentUpdate(incident.incidentId) from None
            raise
        index_ttl = int(incident.lastSeen) + window_seconds + 86400
        for kind, values in incident.entities.items():
            # Cost Explorer reports a day or more after the usage: keep `aws` index items for two weeks.
            kind_ttl = index_ttl + AWS_INDEX_EXTRA_SECONDS if kind == "aws" else index_ttl
            for value in values:
                self.ddb.put_item(
                    TableName=self.table,
                    Item=to_item(
                        {
                            "pk": _entity_pk(incident.tenantId, kind, value),
                            "sk": f"I#{incident.incidentId}",
                            "lastSeen": incident.lastSeen,
                            "ttl": kind_ttl,
                        }
                    ),
                )

    # ---- reads for the API ----------------------------------------------------------------------
    def get(self, tenant: str, incident_id: str) -> Incident:
        resp = self.ddb.get_item(
            TableName=self.table, Key={"pk": {"S": _pk(tenant)}, "sk": {"S": f"I#{incident_id}"}}, ConsistentRead=True
        )
        if "Item" not in resp:
            raise NotFound(f"Incident {incident_id} not found")
        return Incident.from_item(from_item(resp["Item"]))

    def list(
        self,
        tenant: str,
        *,
        status: str | None = None,
        severity: str | None = None,
        limit: int = 50,
        next_token: str | None = None,
    ) -> tuple[list[Incident], str | None]:
        """Newest first; filters applied server-side, pages until `limit` matches or the end."""
        start = decode_token(next_token, tenant)
        filters, values, names = [], {":pk": {"S": _pk(tenant)}, ":i": {"S": "I#"}}, {}
        if status:
            filters.append("#st = :st")
            values[":st"] = {"S": status}
            names["#st"] = "status"
        if severity:
            filters.append("severity = :sev")
            values[":sev"] = {"S": severity}
        out: list[Incident] = []
        while True:
            kwargs: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": "pk = :pk AND begins_with(sk, :i)",
                "ExpressionAttributeValues": values,
                "ScanIndexForward": False,
                "Limit": limit - len(out),
            }
            if filters:
                kwargs["FilterExpression"] = " AND ".join(filters)
            if names:
                kwargs["ExpressionAttributeNames"] = names
            if start:
                kwargs["ExclusiveStartKey"] = start
            resp = self.ddb.query(**kwargs)
            out.extend(Incident.from_item(from_item(i)) for i in resp.get("Items", []))
            start = resp.get("LastEvaluatedKey")
            if not start or len(out) >= limit:
                break
        return out, encode_token(start)

    def set_status(self, tenant: str, incident_id: str, status: str, reason: str, at: str) -> None:
        try:
            self.ddb.update_item(
                TableName=self.table,
                Key={"pk": {"S": _pk(tenant)}, "sk": {"S": f"I#{incident_id}"}},
                UpdateExpression="SET #st = :st, statusReason = :r, updatedAt = :at ADD version :one",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#st": "status"},
                ExpressionAttributeValues={
                    ":st": {"S": status},
                    ":r": {"S": reason[:500]},
                    ":at": {"S": at},
                    ":one": {"N": "1"},
                },
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise NotFound(f"Incident {incident_id} not found") from None
            raise

    # ---- manual reviews -------------------------------------------------------------------------
    def put_review(self, review: Mapping[str, Any], ttl: int) -> None:
        item = dict(review) | {"pk": _pk(review["tenantId"]), "sk": f"R#{review['reviewId']}", "ttl": ttl}
        try:
            self.ddb.put_item(TableName=self.table, Item=to_item(item), ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            # Same review opened twice (a retried task): keep the newest task token.
            self.ddb.update_item(
                TableName=self.table,
                Key={"pk": {"S": item["pk"]}, "sk": {"S": item["sk"]}},
                UpdateExpression="SET taskToken = :t",
                ConditionExpression="#st = :pending",
                ExpressionAttributeNames={"#st": "status"},
                ExpressionAttributeValues={":t": {"S": review["taskToken"]}, ":pending": {"S": "PENDING"}},
            )

    def get_review(self, tenant: str, review_id: str) -> dict[str, Any]:
        resp = self.ddb.get_item(
            TableName=self.table, Key={"pk": {"S": _pk(tenant)}, "sk": {"S": f"R#{review_id}"}}, ConsistentRead=True
        )
        if "Item" not in resp:
            raise NotFound(f"Review {review_id} not found")
        return from_item(resp["Item"])

    def decide_review(self, tenant: str, review_id: str, decision: str, reviewer: str, note: str, at: str) -> dict:
        """PENDING -> APPROVED/REJECTED exactly once; returns the review as it was before."""
        status = "APPROVED" if decision == "approve" else "REJECTED"
        try:
            resp = self.ddb.update_item(
                TableName=self.table,
                Key={"pk": {"S": _pk(tenant)}, "sk": {"S": f"R#{review_id}"}},
                UpdateExpression="SET #st = :st, reviewer = :who, note = :note, decidedAt = :at",
                ConditionExpression="#st = :pending",
                ExpressionAttributeNames={"#st": "status"},
                ExpressionAttributeValues={
                    ":st": {"S": status},
                    ":pending": {"S": "PENDING"},
                    ":who": to_attr(reviewer),
                    ":note": to_attr(note),
                    ":at": {"S": at},
                },
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                old = exc.response.get("Item")
                if not old:
                    raise NotFound(f"Review {review_id} not found") from None
                raise ConcurrentUpdate(f"Review {review_id} is already {from_item(old)['status']}") from None
            raise
        return from_item(resp["Attributes"])

    def list_reviews(self, tenant: str, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Newest first (review ids embed the anomaly ULID); the task token is never returned."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :r)",
            "ExpressionAttributeValues": {":pk": {"S": _pk(tenant)}, ":r": {"S": "R#"}},
            "ScanIndexForward": False,
        }
        if status:
            kwargs["FilterExpression"] = "#st = :st"
            kwargs["ExpressionAttributeNames"] = {"#st": "status"}
            kwargs["ExpressionAttributeValues"][":st"] = {"S": status}
        out: list[dict[str, Any]] = []
        while len(out) < limit:
            resp = self.ddb.query(**kwargs)
            out.extend(from_item(i) for i in resp.get("Items", []))
            if "LastEvaluatedKey" not in resp:
                break
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        return [{k: v for k, v in r.items() if k not in ("pk", "sk", "taskToken", "ttl")} for r in out[:limit]]

    def _set_review_status(self, tenant: str, review_id: str, status: str) -> None:
        self.ddb.update_item(
            TableName=self.table,
            Key={"pk": {"S": _pk(tenant)}, "sk": {"S": f"R#{review_id}"}},
            UpdateExpression="SET #st = :st",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#st": "status"},
            ExpressionAttributeValues={":st": {"S": status}},
        )

    def reopen_review(self, tenant: str, review_id: str) -> None:
        """Back to PENDING when the workflow could not be resumed (a transient Step Functions error)."""
        self._set_review_status(tenant, review_id, "PENDING")

    def expire_review(self, tenant: str, review_id: str) -> None:
        self._set_review_status(tenant, review_id, "EXPIRED")
