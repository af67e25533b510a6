"""Anomaly table stream records -> OpenSearch bulk actions (pure; no HTTP here).

DynamoDB is the source of truth; OpenSearch is a projection of it. Every document id is
`{tenant}:{anomalyId}`, so a redelivered stream record overwrites instead of duplicating, and a
REMOVE (TTL expiry, GDPR erasure through DELETE /subjects) deletes the document: erasure reaches
the search index too. Documents go to one index per month (`{prefix}-YYYY.MM`, by `detectedAt`),
and every document carries `tenantId`, which document-level security in OpenSearch filters on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from anomaly_guardian.models.anomaly import CONTRACT_FIELDS
from anomaly_guardian.models.ddb_codec import from_item

DOC_FIELDS = (*CONTRACT_FIELDS, "detector", "entities", "feedback")
INDEX_TEMPLATE: dict[str, Any] = {
    "index_patterns": ["{prefix}-*"],
    "template": {
        "settings": {"number_of_shards": 1, "number_of_replicas": 1},
        "mappings": {
            "dynamic": False,
            "properties": {
                "anomalyId": {"type": "keyword"},
                "tenantId": {"type": "keyword"},
                "severity": {"type": "keyword"},
                "anomalyScore": {"type": "float"},
                "detectedAt": {"type": "date"},
                "userId": {"type": "keyword"},
                "anomalyType": {"type": "keyword"},
                "description": {"type": "text"},
                "detector": {"type": "keyword"},
                "entities": {"type": "object", "dynamic": True},
                "originalEvent": {
                    "properties": {
                        "eventId": {"type": "keyword"},
                        "eventType": {"type": "keyword"},
                        "timestamp": {"type": "date"},
                        "transactionAmount": {"type": "double"},
                        "service": {"type": "keyword"},
                        "metricName": {"type": "keyword"},
                        "metricValue": {"type": "double"},
                    }
                },
                "actionsPerformed": {"type": "object", "enabled": False},
                "explanation": {"type": "object", "enabled": False},
                "feedback": {"properties": {"label": {"type": "keyword"}}},
            },
        },
    },
}


class NotAnAnomaly(ValueError):
    """A stream record for an item that is not an anomaly (the table only holds anomalies today)."""


@dataclass(frozen=True, slots=True)
class BulkAction:
    sequence_number: str  # the stream record this action came from (for partial batch failure)
    op: str  # "index" or "delete"
    index: str
    doc_id: str
    document: dict[str, Any] | None = None


def index_template(prefix: str) -> dict[str, Any]:
    template = json.loads(json.dumps(INDEX_TEMPLATE))
    template["index_patterns"] = [f"{prefix}-*"]
    return template


def index_name(prefix: str, detected_at: str) -> str:
    # "2026-11-20T10:00:00.000Z" -> "anomalies-2026.11"
    return f"{prefix}-{detected_at[:4]}.{detected_at[5:7]}"


def document(image: Mapping[str, Any]) -> dict[str, Any]:
    item = from_item(image)
    if not str(item.get("sk", "")).startswith("A#") or "tenantId" not in item:
        raise NotAnAnomaly(f"item {item.get('pk')}/{item.get('sk')} is not an anomaly")
    return {name: item[name] for name in DOC_FIELDS if name in item}


def action_for(record: Mapping[str, Any], prefix: str) -> BulkAction:
    """One DynamoDB stream record (NEW_AND_OLD_IMAGES) as a bulk action."""
    ddb = record["dynamodb"]
    seq = str(ddb.get("SequenceNumber", ""))
    if record.get("eventName") == "REMOVE":
        doc = document(ddb["OldImage"])
        return BulkAction(seq, "delete", index_name(prefix, doc["detectedAt"]), f"{doc['tenantId']}:{doc['anomalyId']}")
    doc = document(ddb["NewImage"])
    return BulkAction(seq, "index", index_name(prefix, doc["detectedAt"]), f"{doc['tenantId']}:{doc['anomalyId']}", doc)


def bulk_body(actions: Iterable[BulkAction]) -> bytes:
    lines: list[str] = []
    for a in actions:
        lines.append(json.dumps({a.op: {"_index": a.index, "_id": a.doc_id}}, separators=(",", ":")))
        if a.op == "index":
            lines.append(json.dumps(a.document, separators=(",", ":"), default=str))
    return ("\n".join(lines) + "\n").encode()


def retryable(status: int) -> bool:
    """429 and 5xx heal by retrying; any other per-item error is the document's own problem."""
    return status == 429 or status >= 500


def failed_items(
    actions: list[BulkAction], response: Mapping[str, Any]
) -> tuple[list[BulkAction], list[tuple[BulkAction, str]]]:
    """(actions to retry, actions rejected for good with the reason) from a `_bulk` response."""
    retry: list[BulkAction] = []
    rejected: list[tuple[BulkAction, str]] = []
    if not response.get("errors"):
        return retry, rejected
    for action, item in zip(actions, response.get("items", []), strict=False):
        result = next(iter(item.values()))
        status = int(result.get("status", 500))
        if status < 300 or (action.op == "delete" and status == 404):
            continue
        if retryable(status):
            retry.append(action)
        else:
            error = result.get("error") or {}
            rejected.append((action, f"{status} {error.get('type', '')}: {error.get('reason', '')}".strip()))
    return retry, rejected
