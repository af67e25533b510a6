"""The search indexer: a DynamoDB stream batch of the Anomalies table -> one `_bulk` call.

Partial batch failure: records whose documents OpenSearch throttled or failed (429/5xx per item)
are reported so Lambda retries from the earliest of them; ids are deterministic, so the records
after it are simply indexed again. A document OpenSearch rejects for good (mapping conflict) is
logged with the reason and not retried: it stays in DynamoDB, the source of truth, and can be
reindexed after the mapping is fixed. Nothing else is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from anomaly_guardian.search.documents import (
    BulkAction,
    NotAnAnomaly,
    action_for,
    bulk_body,
    failed_items,
    index_template,
)

MAX_ACTIONS_PER_CALL = 500


class SearchBackend(Protocol):
    def bulk(self, body: bytes) -> dict: ...

    def put_index_template(self, name: str, template: dict) -> None: ...


@dataclass
class IndexResult:
    indexed: int = 0
    deleted: int = 0
    retry: list[str] = field(default_factory=list)  # sequence numbers
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (sequence number, reason)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def response(self) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": seq} for seq in self.retry]}


class SearchIndexer:
    def __init__(self, backend: SearchBackend, prefix: str = "anomalies") -> None:
        self.backend = backend
        self.prefix = prefix
        self._template_ready = False

    def handle(self, records: Sequence[Mapping[str, Any]]) -> IndexResult:
        result = IndexResult()
        actions: list[BulkAction] = []
        for record in records:
            seq = str(record.get("dynamodb", {}).get("SequenceNumber", "?"))
            try:
                actions.append(action_for(record, self.prefix))
            except (NotAnAnomaly, KeyError, TypeError, ValueError) as exc:
                result.skipped.append((seq, f"{type(exc).__name__}: {exc}"))
        if not actions:
            return result
        if not self._template_ready:
            self.backend.put_index_template(f"{self.prefix}-template", index_template(self.prefix))
            self._template_ready = True
        for start in range(0, len(actions), MAX_ACTIONS_PER_CALL):
            chunk = actions[start : start + MAX_ACTIONS_PER_CALL]
            retry, rejected = failed_items(chunk, self.backend.bulk(bulk_body(chunk)))
            result.retry += [a.sequence_number for a in retry]
            result.rejected += [(a.sequence_number, reason) for a, reason in rejected]
            bad = {id(a) for a in retry} | {id(a) for a, _ in rejected}
            ok = [a for a in chunk if id(a) not in bad]
            result.indexed += sum(a.op == "index" for a in ok)
            result.deleted += sum(a.op == "delete" for a in ok)
        return result
