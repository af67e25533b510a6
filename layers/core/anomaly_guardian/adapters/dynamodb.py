"""Shared DynamoDB plumbing: clients that honour AWS_ENDPOINT_URL, JSON <-> attribute-value
conversion, batched writes/reads with retry of unprocessed items, and the table definitions of
docs/internals.md (used by tests and the local stack to create the same tables the template does).

The low-level client with our own converter is used instead of the resource API: no Decimal
round trip (floats stay floats) and about 3x less CPU per item, which matters on the detector path.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import Any

from anomaly_guardian.models.ddb_codec import from_attr as from_attr
from anomaly_guardian.models.ddb_codec import from_item as from_item
from anomaly_guardian.models.ddb_codec import report_unreadable as report_unreadable
from anomaly_guardian.models.ddb_codec import to_attr as to_attr
from anomaly_guardian.models.ddb_codec import to_item as to_item
from anomaly_guardian.settings import process_environment

MAX_BATCH_WRITE = 25
MAX_BATCH_GET = 100
MAX_ATTEMPTS = 8

# botocore `Config` arguments of the three kinds of client (built when the first client is).
# Default: batch paths (the detector), bounded retries. Request paths (the API, POST /events) answer within
# API Gateway's 29 s and the function's timeout: short timeouts and one retry, so a stalled or unreachable
# AWS endpoint becomes a documented 503 with Retry-After (and, for POST /events, what was and was not
# accepted) instead of a gateway timeout. Best-effort writes on a request path after the answer is already
# decided (POST /events' receipts of events that landed): one attempt, short timeouts (about 2.5 s at worst).
_RETRY_CONFIG: dict[str, Any] = {
    "retries": {"max_attempts": 5, "mode": "standard"},
    "connect_timeout": 3,
    "read_timeout": 10,
}
_INTERACTIVE_CONFIG: dict[str, Any] = {
    "retries": {"total_max_attempts": 2, "mode": "standard"},
    "connect_timeout": 1,
    "read_timeout": 3,
}
_BEST_EFFORT_CONFIG: dict[str, Any] = {
    "retries": {"total_max_attempts": 1, "mode": "standard"},
    "connect_timeout": 1,
    "read_timeout": 1.5,
}
_LAZY: list[LazyClient] = []
_BUILD_LOCK = threading.Lock()


def boto3_client(service: str, region: str | None = None, **config: Any) -> Any:
    """A real boto3 client (imports boto3/botocore on first call). Region and endpoint are the process's
    (settings.process_environment: the local stack sets the endpoint)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=process_environment().endpoint_url,
        region_name=region or process_environment().region,
        config=Config(**config),
    )


class LazyClient:
    """A boto3 client built on first use (issue 16). Importing boto3/botocore and building a client costs
    about 0.35 s of CPU; a handler module that wires its adapters at import time no longer pays it there,
    and a path that never calls AWS (a request refused before any AWS call) never pays it. Under provisioned
    concurrency or SnapStart (`AWS_LAMBDA_INITIALIZATION_TYPE`) `warm_clients` builds them during init."""

    __slots__ = ("_args", "_client")

    def __init__(self, service: str, region: str | None, config: dict[str, Any]) -> None:
        self._args = (service, region, config)
        self._client: Any = None
        _LAZY.append(self)

    def materialise(self) -> Any:
        if self._client is None:
            with _BUILD_LOCK:  # boto3's default session is not thread-safe (the state store writes from threads)
                if self._client is None:
                    service, region, config = self._args
                    self._client = boto3_client(service, region, **config)
        return self._client

    def __getattr__(self, name: str) -> Any:
        return getattr(self.materialise(), name)

    def __setattr__(self, name: str, value: Any) -> None:  # tests patch client methods through the proxy
        if name in LazyClient.__slots__:
            object.__setattr__(self, name, value)
        else:
            setattr(self.materialise(), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self.materialise(), name)

    def __repr__(self) -> str:
        return f"LazyClient({self._args[0]!r}, built={self._client is not None})"


@cache
def client(service: str, region: str | None = None) -> Any:
    """One boto3 client per service per process (wired at cold start, built on first use, reused by warm
    invocations)."""
    return LazyClient(service, region, _RETRY_CONFIG)


@cache
def interactive_client(service: str, region: str | None = None) -> Any:
    """A client for request paths: fails fast (about 14 s at worst) instead of retrying for a minute."""
    return LazyClient(service, region, _INTERACTIVE_CONFIG)


@cache
def best_effort_client(service: str, region: str | None = None) -> Any:
    return LazyClient(service, region, _BEST_EFFORT_CONFIG)


def reset_clients() -> None:
    """Forget cached clients (tests switch endpoints and credentials between cases)."""
    client.cache_clear()
    interactive_client.cache_clear()
    best_effort_client.cache_clear()
    _LAZY.clear()


def warm_clients(services: Iterable[str] = (), *, force: bool = False) -> int:
    """Build every wired client (and `client(s)` for each of `services`) now, when the environment is
    initialised ahead of traffic (provisioned concurrency, SnapStart: init is off the request path there),
    or when `force`. Returns how many clients were built; 0 on an on-demand cold start (left lazy)."""
    ahead_of_traffic = process_environment().initialization_type in ("provisioned-concurrency", "snap-start")
    if not (force or ahead_of_traffic):
        return 0
    for service in services:
        client(service)
    for lazy in list(_LAZY):
        lazy.materialise()
    return len(_LAZY)


# ---- JSON <-> DynamoDB attribute values: the codec lives in the domain (models.ddb_codec) ------------


# A response botocore cannot parse (an item DynamoDB or an emulator wrote that its parser chokes on, such
# as an empty map key): the reader falls back to item-by-item reads and skips what still fails.
@cache
def unreadable_response() -> tuple[type[BaseException], ...]:
    """The exceptions of such a response (`except unreadable_response():`, botocore imported on need)."""
    from botocore.parsers import ResponseParserError

    return (ResponseParserError, AttributeError, TypeError)


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
