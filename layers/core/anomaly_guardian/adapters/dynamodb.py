"""Shared DynamoDB plumbing: clients that honour AWS_ENDPOINT_URL, JSON <-> attribute-value
conversion, batched writes/reads with retry of unprocessed items, and the table definitions of
docs/internals.md (used by tests and the local stack to create the same tables the template does).

The low-level client with our own converter is used instead of the resource API: no Decimal
round trip (floats stay floats) and about 3x less CPU per item, which matters on the detector path.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.parsers import ResponseParserError

_RETRY_CONFIG = Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=3, read_timeout=10)
MAX_BATCH_WRITE = 25
MAX_BATCH_GET = 100
MAX_ATTEMPTS = 8


@cache
def client(service: str, region: str | None = None) -> Any:
    """One boto3 client per service per process (created at cold start, reused by warm invocations).

    `AWS_ENDPOINT_URL` is set only for the local stack (moto server on loopback).
    """
    return boto3.client(
        service,
        endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None,
        region_name=region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        config=_RETRY_CONFIG,
    )


# Request paths (the API, POST /events) answer within API Gateway's 29 s and the function's timeout:
# short timeouts and one retry, so a stalled or unreachable AWS endpoint becomes a documented 503 with
# Retry-After (and, for POST /events, what was and was not accepted) instead of a gateway timeout.
_INTERACTIVE_CONFIG = Config(retries={"total_max_attempts": 2, "mode": "standard"}, connect_timeout=1, read_timeout=3)


@cache
def interactive_client(service: str, region: str | None = None) -> Any:
    """A client for request paths: fails fast (about 8 s at worst) instead of retrying for a minute."""
    return boto3.client(
        service,
        endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None,
        region_name=region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        config=_INTERACTIVE_CONFIG,
    )


def reset_clients() -> None:
    """Forget cached clients (tests switch endpoints and credentials between cases)."""
    client.cache_clear()
    interactive_client.cache_clear()


# ---- JSON <-> DynamoDB attribute values ---------------------------------------------------------


NUMBER_LIMIT = 10**126  # DynamoDB numbers: magnitude below 1e126 (at most 9.99...e125), at least 1e-130
MIN_NUMBER = 1e-130
MAX_DIGITS = 38


def _number(value: int | float) -> str:
    """DynamoDB's N: finite, magnitude at most 9.99e125, at most 38 significant digits. A float closer to
    zero than 1e-130 (which DynamoDB cannot represent) is stored as 0; anything else out of range raises."""
    if isinstance(value, float):
        if not math.isfinite(value) or abs(value) >= 1e126:  # as the text DynamoDB parses
            raise ValueError(f"DynamoDB cannot store the number {value!r}")
        if abs(value) < MIN_NUMBER:
            return "0"
        return repr(value)
    text = str(value)
    if len(text.lstrip("-").rstrip("0") or "0") > MAX_DIGITS or abs(value) >= NUMBER_LIMIT:
        raise ValueError(f"DynamoDB cannot store the number {text[:40]} (more than {MAX_DIGITS} digits)")
    return text


def to_attr(value: Any) -> dict[str, Any]:
    """One JSON-like Python value as a DynamoDB attribute value."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (int, float)):
        return {"N": _number(value)}
    if isinstance(value, Mapping):
        return {"M": {str(k): to_attr(v) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"L": [to_attr(v) for v in value]}
    if isinstance(value, (bytes, bytearray)):
        return {"B": bytes(value)}
    # Decimal, enums and the like: fall back to their string form as a number or string.
    text = str(value)
    try:
        float(text)
    except ValueError:
        return {"S": text}
    return {"N": text}


def to_item(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(k): to_attr(v) for k, v in data.items()}


def _parse_number(text: str) -> int | float:
    if "." in text or "e" in text or "E" in text:
        return float(text)
    return int(text)


def from_attr(attr: Mapping[str, Any]) -> Any:
    ((kind, value),) = attr.items()
    if kind == "S":
        return value
    if kind == "N":
        return _parse_number(value)
    if kind == "M":
        return {k: from_attr(v) for k, v in value.items()}
    if kind == "L":
        return [from_attr(v) for v in value]
    if kind == "BOOL":
        return bool(value)
    if kind == "NULL":
        return None
    if kind == "SS":
        return sorted(value)
    if kind == "NS":
        return sorted(_parse_number(v) for v in value)
    if kind == "B":
        return value
    raise ValueError(f"unsupported DynamoDB attribute type {kind}")


def from_item(item: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {k: from_attr(v) for k, v in item.items()}


# A response botocore cannot parse (an item DynamoDB or an emulator wrote that its parser chokes on, such
# as an empty map key): the reader falls back to item-by-item reads and skips what still fails.
UNREADABLE_RESPONSE: tuple[type[BaseException], ...] = (ResponseParserError, AttributeError, TypeError)

# ---- items that cannot be read -----------------------------------------------------------------


def report_unreadable(table: str, key: Mapping[str, Any], error: BaseException) -> None:
    """A stored item a reader cannot decode is skipped, never a tenant-wide outage: logged (key and error
    type only, no content) and counted as the EMF metric `StoredItemsUnreadable` (alarmed in the template)."""
    import logging

    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    shown = {k: (v.get("S") if isinstance(v, Mapping) else v) for k, v in key.items()}
    logging.getLogger("anomaly_guardian").error(
        "stored item skipped: it cannot be read", extra={"table": table, "key": shown, "error": type(error).__name__}
    )
    try:
        with single_metric(
            name="StoredItemsUnreadable",
            unit=MetricUnit.Count,
            value=1,
            namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "AnomalyGuardian",
            default_dimensions={"service": os.environ.get("POWERTOOLS_SERVICE_NAME") or "anomaly-guardian"},
        ):
            pass
    except Exception:  # a metric must never turn a skipped item into a failed request
        logging.getLogger("anomaly_guardian").exception("could not emit StoredItemsUnreadable")


# ---- batched operations ---------------------------------------------------------------------------


class UnprocessedItems(RuntimeError):
    """DynamoDB kept refusing part of a batch after bounded retries (throttling): the caller fails."""

    def __init__(self, table: str, count: int):
        super().__init__(f"{count} item(s) still unprocessed by {table} after {MAX_ATTEMPTS} attempts")
        self.table = table
        self.count = count


def _backoff(attempt: int, sleep: Callable[[float], None]) -> None:
    sleep(min(2.0, 0.025 * (2**attempt)) * (0.5 + random.random() / 2))


def chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def batch_write(
    ddb: Any,
    table: str,
    requests: list[dict[str, Any]],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """BatchWriteItem in chunks of 25 (`PutRequest`/`DeleteRequest` dicts), retrying unprocessed items
    with jittered exponential backoff. Returns how many requests were written; raises if some never were."""
    for chunk in chunks(requests, MAX_BATCH_WRITE):
        pending = chunk
        for attempt in range(MAX_ATTEMPTS):
            resp = ddb.batch_write_item(RequestItems={table: pending})
            pending = resp.get("UnprocessedItems", {}).get(table, [])
            if not pending:
                break
            _backoff(attempt, sleep)
        else:
            raise UnprocessedItems(table, len(pending))
    return len(requests)


def batch_get(
    ddb: Any,
    table: str,
    keys: list[dict[str, Any]],
    *,
    projection: str | None = None,
    names: dict[str, str] | None = None,
    consistent: bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> list[dict[str, Any]]:
    """BatchGetItem in chunks of 100 keys with UnprocessedKeys retry; returns raw items (any order)."""
    out: list[dict[str, Any]] = []
    for chunk in chunks(keys, MAX_BATCH_GET):
        request: dict[str, Any] = {"Keys": chunk, "ConsistentRead": consistent}
        if projection:
            request["ProjectionExpression"] = projection
        if names:
            request["ExpressionAttributeNames"] = names
        pending: dict[str, Any] | None = request
        for attempt in range(MAX_ATTEMPTS):
            resp = ddb.batch_get_item(RequestItems={table: pending})
            out.extend(resp.get("Responses", {}).get(table, []))
            pending = resp.get("UnprocessedKeys", {}).get(table)
            if not pending or not pending.get("Keys"):
                break
            _backoff(attempt, sleep)
        else:
            raise UnprocessedItems(table, len(pending["Keys"]) if pending else 0)
    return out


# ---- table definitions (docs/internals.md, "DynamoDB keys") --------------------------------------


def _attrs(*names: str) -> list[dict[str, str]]:
    return [{"AttributeName": n, "AttributeType": "S"} for n in names]


def _gsi(name: str, pk: str, sk: str) -> dict[str, Any]:
    return {
        "IndexName": name,
        "KeySchema": [{"AttributeName": pk, "KeyType": "HASH"}, {"AttributeName": sk, "KeyType": "RANGE"}],
        "Projection": {"ProjectionType": "ALL"},
    }


_PK_SK = [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]

# env var -> CreateTable arguments (without TableName). TTL attribute in "_ttl".
TABLE_DEFINITIONS: dict[str, dict[str, Any]] = {
    "STATE_TABLE": {
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": _attrs("pk"),
        "_ttl": "ttl",
    },
    "ANOMALIES_TABLE": {
        "KeySchema": _PK_SK,
        "AttributeDefinitions": _attrs("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk"),
        "GlobalSecondaryIndexes": [
            _gsi("gsi1", "gsi1pk", "gsi1sk"),
            _gsi("gsi2", "gsi2pk", "gsi2sk"),
            _gsi("gsi3", "gsi3pk", "gsi3sk"),
        ],
        "_ttl": "ttl",
    },
    "CONFIG_TABLE": {"KeySchema": _PK_SK, "AttributeDefinitions": _attrs("pk", "sk"), "_ttl": "ttl"},
    "INCIDENTS_TABLE": {"KeySchema": _PK_SK, "AttributeDefinitions": _attrs("pk", "sk"), "_ttl": "ttl"},
    "AUDIT_TABLE": {"KeySchema": _PK_SK, "AttributeDefinitions": _attrs("pk", "sk"), "_ttl": "ttl"},
    "BLOCKLIST_TABLE": {"KeySchema": _PK_SK, "AttributeDefinitions": _attrs("pk", "sk"), "_ttl": "ttl"},
    # Powertools idempotency schema (pk `id`, TTL `expiration`); the detector's event dedupe shares it.
    "IDEMPOTENCY_TABLE": {
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "AttributeDefinitions": _attrs("id"),
        "_ttl": "expiration",
    },
}


def create_tables(ddb: Any, names: Mapping[str, str]) -> dict[str, str]:
    """Create the tables named in `names` ({env var: table name}) with on-demand billing and TTL.

    Existing tables are left alone, so the local stack can call this on every start.
    """
    existing = set(ddb.list_tables().get("TableNames", []))
    for env_name, table in names.items():
        spec = dict(TABLE_DEFINITIONS[env_name])
        ttl_attr = spec.pop("_ttl", None)
        if table in existing:
            continue
        ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST", **spec)
        if ttl_attr:
            ddb.update_time_to_live(
                TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attr}
            )
    return dict(names)
