"""AnomalyRepository: the Anomalies table of docs/internals.md.

Item: `pk`=`T#{tenant}`, `sk`=`A#{anomalyId}`; `gsi1` by user (`gsi1pk`=`T#{tenant}#U#{userId}`),
`gsi2` by type (`gsi2pk`=`T#{tenant}#Y#{anomalyType}`), `gsi3` by severity (`gsi3pk`=`T#{tenant}#S#{severity}`),
each index's sort key (`gsi1sk`/`gsi2sk`/`gsi3sk`) = `A#{anomalyId}`; TTL `ttl`. The anomaly's contract
fields are stored as top-level attributes (plus `feedback` once given), so the API can return items
as they are and feedback/actions are single UpdateItem calls.

Reads are always key-condition Queries (never a Scan), newest first. `anomalyId` is a ULID, so a
time range is a BETWEEN on ULID bounds. Pagination tokens are HMAC-signed together with the tenant
and the filter set: a token cannot be edited to read another tenant's partition or replayed against
a different filter.

User ids: anomalies store the *pseudonymised* user id, and this repository takes pseudonyms only
(`query(user_id=...)`, `delete_user(...)`). Callers holding a raw user id pseudonymise it first
with `privacy.Pseudonymiser().user(tenant, raw)` (the API does this for `GET /anomalies?userId=`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from anomaly_guardian.adapters.dynamodb import batch_write, client, from_item, to_attr, to_item
from anomaly_guardian.ids import ulid_bounds
from anomaly_guardian.models.anomaly import AnomaliesRejected, Anomaly

KEY_ATTRS = ("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk", "ttl")
MAX_LIMIT = 1000
MAX_PAGES_PER_CALL = 25  # bound on round trips when a filter discards most evaluated items
DEFAULT_RETENTION_DAYS = 365
_TOKEN_DOMAIN = b"anomaly-guardian/anomalies-pagination/v1"


class InvalidNextToken(ValueError):
    """The `nextToken` was not issued by this service for this tenant and these filters."""

    code = "INVALID_NEXT_TOKEN"


class AnomalyNotFound(LookupError):
    code = "NOT_FOUND"

    def __init__(self, anomaly_id: str):
        super().__init__(f"Anomaly {anomaly_id} not found")
        self.anomaly_id = anomaly_id


def tenant_pk(tenant: str) -> str:
    return f"T#{tenant}"


def anomaly_sk(anomaly_id: str) -> str:
    return f"A#{anomaly_id}"


def _iso_ms(value: datetime | str | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def pagination_key(base: bytes) -> bytes:
    """The page-token MAC key, derived from `base`: GUARDIAN_PAGINATION_KEY when set, else the token signing
    key (wiring passes one of them, as for auth.action_links.link_key)."""
    return hmac.new(base, _TOKEN_DOMAIN, hashlib.sha256).digest()


class AnomalyRepository:
    def __init__(
        self,
        table_name: str,
        *,
        ddb: Any = None,
        token_key: bytes | Callable[[], bytes] | None = None,
        retention_days: int | None = None,
    ) -> None:
        self.table = table_name
        self._ddb = ddb
        self._token_key = token_key  # bytes, or its loader (read on the first page token)
        self.retention_seconds = (retention_days or DEFAULT_RETENTION_DAYS) * 86400

    @property
    def ddb(self) -> Any:
        if self._ddb is None:
            self._ddb = client("dynamodb")
        return self._ddb

    @property
    def token_key(self) -> bytes:
        if self._token_key is None:
            raise RuntimeError("page tokens need the pagination key: AnomalyRepository(token_key=...), from wiring")
        if not isinstance(self._token_key, bytes):
            self._token_key = self._token_key()
        return self._token_key

    # ---- writes -----------------------------------------------------------------------------------

    def to_record(self, anomaly: Anomaly | dict[str, Any]) -> dict[str, Any]:
        """The stored item (plain JSON) for one anomaly."""
        data = anomaly.model_dump(mode="json", exclude_none=True) if isinstance(anomaly, Anomaly) else dict(anomaly)
        tenant, aid = data["tenantId"], data["anomalyId"]
        sk = anomaly_sk(aid)
        base = tenant_pk(tenant)
        detected_ms = _iso_ms(data.get("detectedAt")) or int(time.time() * 1000)
        return {
            **data,
            "pk": base,
            "sk": sk,
            "gsi1pk": f"{base}#U#{data['userId']}",
            "gsi1sk": sk,
            "gsi2pk": f"{base}#Y#{data['anomalyType']}",
            "gsi2sk": sk,
            "gsi3pk": f"{base}#S#{data['severity']}",
            "gsi3sk": sk,
            "ttl": detected_ms // 1000 + self.retention_seconds,
        }

    def put_many(self, anomalies: Sequence[Anomaly | dict[str, Any]]) -> int:
        """Store anomalies (BatchWriteItem, 25 per call, unprocessed items retried). Puts are overwrites,
        so re-storing an anomaly with the same id (a replayed batch) leaves one item, not two."""
        requests: list[tuple[str, dict[str, Any]]] = []
        rejected: list[tuple[str, str]] = []
        for a in anomalies:
            record = self.to_record(a)
            try:
                requests.append((record["anomalyId"], {"PutRequest": {"Item": to_item(record)}}))
            except ValueError as exc:  # a number DynamoDB cannot keep: this item only
                rejected.append((record["anomalyId"], str(exc)))
        stored = len(requests)
        if requests:
            try:
                batch_write(self.ddb, self.table, [r for _, r in requests])
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ValidationException":
                    raise  # transient or unknown: the caller retries the whole write
                refused = self._put_each(requests)  # find the item(s) DynamoDB refuses; store the others
                rejected += refused
                stored -= len(refused)
        if rejected:
            raise AnomaliesRejected(rejected, stored=stored)
        return stored

    def _put_each(self, requests: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, str]]:
        refused = []
        for anomaly_id, request in requests:
            try:
                self.ddb.put_item(TableName=self.table, Item=request["PutRequest"]["Item"])
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ValidationException":
                    raise
                refused.append((anomaly_id, str(exc.response.get("Error", {}).get("Message") or "ValidationException")))
        return refused

    def set_feedback(self, tenant: str, anomaly_id: str, feedback: dict[str, Any]) -> dict[str, Any]:
        """Record analyst feedback (replaces earlier feedback); returns the updated anomaly."""
        return self._update(
            tenant,
            anomaly_id,
            "SET #f = :f",
            {"#f": "feedback"},
            {":f": to_attr(feedback)},
        )

    def update_actions(self, tenant: str, anomaly_id: str, actions: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Append records to `actionsPerformed` (atomic list_append; concurrent appends both land)."""
        return self._update(
            tenant,
            anomaly_id,
            "SET #a = list_append(if_not_exists(#a, :empty), :a)",
            {"#a": "actionsPerformed"},
            {":a": to_attr(list(actions)), ":empty": {"L": []}},
        )

    def _update(
        self, tenant: str, anomaly_id: str, expression: str, names: dict[str, str], values: dict[str, Any]
    ) -> dict[str, Any]:
        err = self.ddb.exceptions.ConditionalCheckFailedException
        try:
            resp = self.ddb.update_item(
                TableName=self.table,
                Key={"pk": {"S": tenant_pk(tenant)}, "sk": {"S": anomaly_sk(anomaly_id)}},
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except err:
            raise AnomalyNotFound(anomaly_id) from None
        return self._public(from_item(resp["Attributes"]))

    def user_anomalies(self, tenant: str, user_pseudonym: str) -> list[dict[str, Any]]:
        """Every stored anomaly of one (pseudonymised) user (gsi1 projects ALL), for erasure."""
        out: list[dict[str, Any]] = []
        args: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :p",
            "ExpressionAttributeValues": {":p": {"S": f"{tenant_pk(tenant)}#U#{user_pseudonym}"}},
        }
        while True:
            resp = self.ddb.query(**args)
            out.extend(from_item(i) for i in resp.get("Items", []))
            if "LastEvaluatedKey" not in resp:
                return out
            args["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def delete_user(self, tenant: str, user_pseudonym: str) -> int:
        """GDPR erasure: delete every anomaly of one (pseudonymised) user; returns how many."""
        keys: list[dict[str, Any]] = []
        start: dict[str, Any] | None = None
        while True:
            args: dict[str, Any] = {
                "TableName": self.table,
                "IndexName": "gsi1",
                "KeyConditionExpression": "gsi1pk = :p",
                "ExpressionAttributeValues": {":p": {"S": f"{tenant_pk(tenant)}#U#{user_pseudonym}"}},
                "ProjectionExpression": "pk, sk",
            }
            if start:
                args["ExclusiveStartKey"] = start
            resp = self.ddb.query(**args)
            keys.extend({"pk": i["pk"], "sk": i["sk"]} for i in resp.get("Items", []))
            start = resp.get("LastEvaluatedKey")
            if not start:
                break
        batch_write(self.ddb, self.table, [{"DeleteRequest": {"Key": k}} for k in keys])
        return len(keys)

    # ---- reads ------------------------------------------------------------------------------------

    def get(self, tenant: str, anomaly_id: str) -> dict[str, Any] | None:
        resp = self.ddb.get_item(
            TableName=self.table,
            Key={"pk": {"S": tenant_pk(tenant)}, "sk": {"S": anomaly_sk(anomaly_id)}},
        )
        item = resp.get("Item")
        return self._public(from_item(item)) if item else None

    def query(
        self,
        tenant: str,
        *,
        severity: str | None = None,
        from_date: datetime | str | None = None,
        to_date: datetime | str | None = None,
        user_id: str | None = None,
        anomaly_type: str | None = None,
        limit: int = 100,
        next_token: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Newest-first anomalies of one tenant matching every given filter, and an opaque token for the
        next page (None when there is none). `user_id` is the pseudonymised id.

        Index choice (most selective first): user (gsi1), then severity CRITICAL/HIGH (gsi3; rare by
        construction), then type (gsi2), then severity MEDIUM/LOW, then the tenant partition. The time
        range is always a key condition on the ULID sort key; remaining filters are FilterExpressions.
        """
        if not 1 <= int(limit) <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
        limit = int(limit)
        base = tenant_pk(tenant)
        filters = {"severity": severity, "userId": user_id, "anomalyType": anomaly_type}
        lo_ms, hi_ms = _iso_ms(from_date), _iso_ms(to_date)
        if lo_ms is not None and hi_ms is not None and lo_ms > hi_ms:
            raise ValueError("fromDate is after toDate")

        if user_id:
            index, pk_attr, sk_attr, pk_value, used = "gsi1", "gsi1pk", "gsi1sk", f"{base}#U#{user_id}", "userId"
        elif severity in ("CRITICAL", "HIGH"):
            index, pk_attr, sk_attr, pk_value, used = "gsi3", "gsi3pk", "gsi3sk", f"{base}#S#{severity}", "severity"
        elif anomaly_type:
            index, pk_attr, sk_attr, pk_value = "gsi2", "gsi2pk", "gsi2sk", f"{base}#Y#{anomaly_type}"
            used = "anomalyType"
        elif severity:
            index, pk_attr, sk_attr, pk_value, used = "gsi3", "gsi3pk", "gsi3sk", f"{base}#S#{severity}", "severity"
        else:
            index, pk_attr, sk_attr, pk_value, used = None, "pk", "sk", base, None

        names = {"#pk": pk_attr}
        values: dict[str, Any] = {":pk": {"S": pk_value}}
        condition = "#pk = :pk"
        lo = f"A#{ulid_bounds(lo_ms)[0]}" if lo_ms is not None else None
        hi = f"A#{ulid_bounds(hi_ms)[1]}" if hi_ms is not None else None
        names["#sk"] = sk_attr
        if lo and hi:
            condition += " AND #sk BETWEEN :lo AND :hi"
            values |= {":lo": {"S": lo}, ":hi": {"S": hi}}
        elif lo:
            condition += " AND #sk >= :lo"
            values[":lo"] = {"S": lo}
        elif hi:
            condition += " AND #sk <= :hi"
            values[":hi"] = {"S": hi}
        else:
            condition += " AND begins_with(#sk, :a)"
            values[":a"] = {"S": "A#"}

        clauses = []
        for i, (attr, value) in enumerate((k, v) for k, v in filters.items() if v and k != used):
            names[f"#f{i}"] = attr
            values[f":f{i}"] = {"S": str(value)}
            clauses.append(f"#f{i} = :f{i}")

        scope = {"tenant": tenant, "index": index, "filters": filters, "from": lo_ms, "to": hi_ms}
        start = self._decode_token(next_token, scope, pk_attr, pk_value) if next_token else None

        items: list[dict[str, Any]] = []
        last: dict[str, Any] | None = None
        for _ in range(MAX_PAGES_PER_CALL):
            args: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": condition,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
                "ScanIndexForward": False,
                # Limit counts evaluated items, so never ask for more than still fits on this page:
                # then LastEvaluatedKey is exactly where the next page starts.
                "Limit": limit - len(items),
            }
            if index:
                args["IndexName"] = index
            if clauses:
                args["FilterExpression"] = " AND ".join(clauses)
            if start:
                args["ExclusiveStartKey"] = start
            resp = self.ddb.query(**args)
            items.extend(self._public(from_item(i)) for i in resp.get("Items", []))
            last = resp.get("LastEvaluatedKey")
            if not last or len(items) >= limit:
                break
            start = last
        return items, (self._encode_token(last, scope) if last else None)

    # ---- pagination tokens ------------------------------------------------------------------------

    def _sign(self, payload: bytes, scope: dict[str, Any]) -> str:
        scope_bytes = json.dumps(scope, sort_keys=True, separators=(",", ":")).encode()
        return hmac.new(self.token_key, scope_bytes + b"\x00" + payload, hashlib.sha256).hexdigest()[:32]

    def _encode_token(self, key: dict[str, Any], scope: dict[str, Any]) -> str:
        payload = json.dumps(key, sort_keys=True, separators=(",", ":")).encode()
        body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        return f"{body}.{self._sign(payload, scope)}"

    def _decode_token(self, token: str, scope: dict[str, Any], pk_attr: str, pk_value: str) -> dict[str, Any]:
        try:
            body, sig = str(token).rsplit(".", 1)
            payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (ValueError, TypeError):
            raise InvalidNextToken("nextToken is malformed; use the value returned by the previous page") from None
        if not hmac.compare_digest(sig, self._sign(payload, scope)):
            raise InvalidNextToken(
                "nextToken does not match this query; use it with the same filters that produced it"
            ) from None
        key = json.loads(payload)
        # Defence in depth: a validly signed key must still point into this tenant's partition.
        if key.get(pk_attr, {}).get("S") != pk_value:
            raise InvalidNextToken("nextToken does not belong to this tenant")
        return key

    @staticmethod
    def _public(item: dict[str, Any]) -> dict[str, Any]:
        for attr in KEY_ATTRS:
            item.pop(attr, None)
        return item


__all__ = ["AnomalyNotFound", "AnomalyRepository", "InvalidNextToken"]
