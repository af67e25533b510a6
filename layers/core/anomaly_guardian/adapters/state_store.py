"""DynamoDB implementation of the StateStore protocol (State table of docs/internals.md).

Item: `pk` = `{tenant}#{kind}#{entity}`, `state` = JSON string, `version` (number), `ttl` (epoch s).

- `load` is BatchGetItem (100 keys per call, UnprocessedKeys retried), strongly consistent so the
  version we condition on is the latest.
- `save` is one PutItem per changed item, conditional on the version it was loaded with
  (`attribute_not_exists(pk)` for new items), up to `WRITE_THREADS` in flight. A conflict (the version
  moved on) is raised as `StateConflict` naming the losing keys; `saved` on the exception lists the keys
  that were written, so the caller can re-run without applying the batch twice to them (it rebuilds
  them from the pre-batch snapshot and overwrites them at their new version). Not TransactWriteItems:
  a transactional write bills twice per item, and its all-or-nothing chunk bought nothing here, since
  the caller already handles keys committed before a conflict (issue 16: half the state table's
  write units). A write that failed transiently (throttled after boto3's retries) once other keys were
  committed is reported the same way, as a conflict on that key: failing into a Kinesis retry would
  apply the batch a second time to the committed keys. Nothing committed, or an error a retry cannot
  cure: the error itself is raised.
  Items whose JSON did not change since `load` are not written (no WCU spent on read-only state).
- A batch therefore costs at most one read and one write per entity.
- Erasure: the table has no sort key, so "every key starting with a prefix" cannot be queried without a
  Scan. Erase by exact keys (`delete_keys`) or by entity and the known kinds (`delete_entity`);
  `delete_prefix` accepts a full `{tenant}#{kind}#{entity}` key.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from anomaly_guardian.adapters.dynamodb import batch_get, batch_write, client
from anomaly_guardian.state.store import StateConflict, StateItem, state_key
from anomaly_guardian.transient import is_transient

WRITE_THREADS = 16  # conditional PutItems in flight per save (boto3 clients are thread-safe)
DEFAULT_TTL_DAYS = 90


class PartialStateConflict(StateConflict):
    """Some chunks committed (`saved`), at least one lost a version race (`keys`)."""

    def __init__(self, keys: Iterable[str], saved: Iterable[str]):
        super().__init__(keys)
        self.saved = set(saved)


def _dumps(state: dict[str, Any]) -> str:
    return json.dumps(state, separators=(",", ":"), sort_keys=True)


class DynamoDBStateStore:
    def __init__(self, table_name: str, *, ddb: Any = None, ttl_days: int = DEFAULT_TTL_DAYS) -> None:
        self.table = table_name
        self._ddb = ddb
        self.ttl_seconds = ttl_days * 86400
        # JSON as loaded, per key: lets `save` skip unchanged items and `snapshot` rebuild the
        # pre-batch state after a conflict without another read. Bounded by `forget()` per batch.
        self._loaded: dict[str, tuple[str | None, int, int | None]] = {}
        self._pool: ThreadPoolExecutor | None = None

    @property
    def ddb(self) -> Any:
        if self._ddb is None:
            self._ddb = client("dynamodb")
        return self._ddb

    def load(self, keys: Iterable[str]) -> dict[str, StateItem]:
        wanted = list(dict.fromkeys(keys))
        out = {k: StateItem() for k in wanted}
        raw = batch_get(
            self.ddb,
            self.table,
            [{"pk": {"S": k}} for k in wanted],
            projection="pk, #s, version, #t",
            names={"#s": "state", "#t": "ttl"},
        )
        found = set()
        for item in raw:
            key = item["pk"]["S"]
            found.add(key)
            text = item.get("state", {}).get("S")
            version = int(item.get("version", {}).get("N", "0"))
            ttl = int(item["ttl"]["N"]) if "ttl" in item else None
            out[key] = StateItem(state=json.loads(text) if text else {}, version=version, ttl=ttl)
            self._loaded[key] = (text, version, ttl)
        for key in wanted:
            if key not in found:
                self._loaded[key] = (None, 0, None)
        return out

    def snapshot(self, keys: Iterable[str]) -> dict[str, StateItem]:
        """The items as they were when last loaded, before this batch changed them (fresh objects, no read).

        `save` does not move this baseline: after a partial commit the caller rebuilds the batch from
        it, with the committed version (+1) for keys that were saved."""
        out = {}
        for key in keys:
            text, version, ttl = self._loaded.get(key, (None, 0, None))
            out[key] = StateItem(state=json.loads(text) if text else {}, version=version, ttl=ttl)
        return out

    def forget(self) -> None:
        self._loaded.clear()

    def save(self, items: Mapping[str, StateItem]) -> None:
        now = int(time.time())
        writes: list[tuple[str, StateItem, str, dict[str, Any]]] = []
        for key, item in items.items():
            text = _dumps(item.state)
            loaded = self._loaded.get(key)
            if loaded is not None and loaded[0] == text and loaded[1] == item.version:
                continue  # unchanged since load: nothing to write
            if item.version == 0 and not item.state:
                continue  # never stored and still empty
            ttl = item.ttl if item.ttl and item.ttl > now else now + self.ttl_seconds
            put: dict[str, Any] = {
                "TableName": self.table,
                "Item": {
                    "pk": {"S": key},
                    "state": {"S": text},
                    "version": {"N": str(item.version + 1)},
                    "ttl": {"N": str(ttl)},
                },
            }
            if item.version == 0:
                put["ConditionExpression"] = "attribute_not_exists(pk)"
            else:
                put["ConditionExpression"] = "version = :v"
                put["ExpressionAttributeValues"] = {":v": {"N": str(item.version)}}
            writes.append((key, item, text, put))

        conflicts: list[str] = []
        saved: list[str] = []
        transient: list[str] = []
        failures: list[BaseException] = []
        lost_race = self.ddb.exceptions.ConditionalCheckFailedException
        for (key, item, _text, put), outcome in zip(writes, self._put_all([w[3] for w in writes]), strict=True):
            if outcome is None:
                item.version += 1
                item.ttl = int(put["Item"]["ttl"]["N"])
                saved.append(key)
            elif isinstance(outcome, lost_race):
                conflicts.append(key)
            else:
                failures.append(outcome)
                if is_transient(outcome):
                    transient.append(key)
        if failures and (not saved or len(transient) < len(failures)):
            # nothing committed (Kinesis may retry the batch as it is), or an error a retry cannot cure
            raise failures[0]
        if conflicts or transient:
            # Keys already committed must not take this batch's events twice: re-run the tenant here (the
            # keys that failed to write, like lost races, re-read) instead of failing into a Kinesis retry.
            raise PartialStateConflict(conflicts + transient, saved)

    def _put_all(self, puts: list[dict[str, Any]]) -> list[BaseException | None]:
        """Every PutItem, concurrently (one pool per store, kept for the warm container); the outcome of
        each (None when written) in the order given."""

        def put(request: dict[str, Any]) -> BaseException | None:
            try:
                self.ddb.put_item(**request)
            except Exception as exc:
                return exc
            return None

        if len(puts) <= 1:
            return [put(p) for p in puts]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=WRITE_THREADS, thread_name_prefix="state-put")
        return list(self._pool.map(put, puts))

    def delete_keys(self, keys: Sequence[str]) -> int:
        """Delete exact keys; returns how many existed."""
        keys = list(dict.fromkeys(keys))
        existing = [
            i["pk"]["S"] for i in batch_get(self.ddb, self.table, [{"pk": {"S": k}} for k in keys], projection="pk")
        ]
        batch_write(self.ddb, self.table, [{"DeleteRequest": {"Key": {"pk": {"S": k}}}} for k in existing])
        for key in existing:
            self._loaded.pop(key, None)
        return len(existing)

    def delete_entity(self, tenant: str, entity: str, kinds: Iterable[str]) -> int:
        """GDPR erasure of one entity (e.g. a user pseudonym) across the given state kinds."""
        return self.delete_keys([state_key(tenant, kind, entity) for kind in kinds])

    def delete_prefix(self, prefix: str) -> int:
        if prefix.count("#") < 2 or prefix.endswith("#"):
            raise ValueError(
                "DynamoDB state has no sort key, so a prefix cannot be queried: pass a full "
                "'{tenant}#{kind}#{entity}' key, or use delete_entity(tenant, entity, kinds)"
            )
        return self.delete_keys([prefix])


__all__ = ["DynamoDBStateStore", "PartialStateConflict"]
