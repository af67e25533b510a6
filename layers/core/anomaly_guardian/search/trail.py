"""CloudTrail records -> documents of the daily trail indexes (`{prefix}-YYYY.MM.DD`), for search,
dashboards and OpenSearch Anomaly Detection (pure; the usage-ingest Lambda sends them with `_bulk`).

A document is the record's searchable part (the fields `search.declared.trail_mappings` maps) plus
`guardian`: what the usage detector counts (`api`, `count` = instances asked for, `resource`,
`instanceFamily`, `gpu`, `sensitive`), which the AD detectors aggregate and split on. The document id
is the record's `eventID`, so a redelivered batch overwrites. Request parameters and response
elements are kept but not indexed (mapping `enabled: false`): no mapping explosion, still readable.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from anomaly_guardian.usage.cloudtrail import identity, instance_family, to_event

TOP_FIELDS = (
    "eventTime",
    "eventID",
    "eventSource",
    "eventName",
    "eventType",
    "awsRegion",
    "recipientAccountId",
    "sourceIPAddress",
    "userAgent",
    "errorCode",
    "errorMessage",
    "readOnly",
    "managementEvent",
    "requestParameters",
    "responseElements",
    "resources",
)
MAX_BLOB = 8192  # request parameters / response elements kept per document (characters of JSON)


def index_name(prefix: str, event_time: str) -> str:
    # "2026-03-02T10:00:00Z" -> "cloudtrail-2026.03.02"
    return f"{prefix}-{event_time[:4]}.{event_time[5:7]}.{event_time[8:10]}"


def _bounded(value: Any) -> Any:
    if value is None:
        return None
    text = json.dumps(value, default=str)
    return value if len(text) <= MAX_BLOB else {"truncated": text[:MAX_BLOB]}


def trail_document(record: Mapping[str, Any]) -> dict[str, Any]:
    doc = {k: record[k] for k in TOP_FIELDS if record.get(k) is not None}
    for k in ("requestParameters", "responseElements", "resources"):
        if k in doc:
            doc[k] = _bounded(doc[k])
    ident = record.get("userIdentity") if isinstance(record.get("userIdentity"), Mapping) else {}
    doc["userIdentity"] = {
        k: v
        for k, v in {
            "type": ident.get("type"),
            "arn": ident.get("arn"),
            "accountId": ident.get("accountId"),
            "principalId": ident.get("principalId"),
            "accessKeyId": ident.get("accessKeyId"),
            "invokedBy": ident.get("invokedBy"),
            "sessionIssuer": identity(record).get("sessionIssuer"),
        }.items()
        if v
    }
    meta = to_event(record)["metadata"]
    api = meta["api"]
    doc["guardian"] = {
        k: v
        for k, v in {
            "api": api,
            "count": meta["count"],
            "resource": meta.get("resource"),
            "instanceFamily": instance_family(meta.get("resource"))
            if record.get("eventName") == "RunInstances"
            else None,
            "gpu": meta.get("gpu"),
            "sensitive": meta.get("sensitive"),
        }.items()
        if v is not None
    }
    return doc


def bulk_lines(records: Iterable[Mapping[str, Any]], prefix: str = "cloudtrail") -> bytes:
    """One `_bulk` body indexing each record into its day's index under its eventID."""
    lines: list[str] = []
    for rec in records:
        lines.append(
            json.dumps({"index": {"_index": index_name(prefix, str(rec["eventTime"])), "_id": str(rec["eventID"])}})
        )
        lines.append(json.dumps(trail_document(rec), separators=(",", ":"), default=str))
    return ("\n".join(lines) + "\n").encode() if lines else b""
