"""JSON-like Python values <-> DynamoDB attribute values (the low-level wire format), with no SDK import.

The adapters use the low-level client with this converter instead of the resource API: no Decimal
round trip (floats stay floats) and about 3x less CPU per item. Pure, so the domain (search
documents, stream records) decodes items without loading boto3. `adapters.dynamodb` re-exports it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = [
    "MAX_DIGITS",
    "MIN_NUMBER",
    "NUMBER_LIMIT",
    "from_attr",
    "from_item",
    "report_unreadable",
    "to_attr",
    "to_item",
]


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


# ---- items that cannot be read -----------------------------------------------------------------


def report_unreadable(table: str, key: Mapping[str, Any], error: BaseException) -> None:
    """A stored item a reader cannot decode is skipped, never a tenant-wide outage: logged (key and error
    type only, no content) and counted as the EMF metric `StoredItemsUnreadable` (alarmed in the template)."""
    import logging

    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    from anomaly_guardian.settings import process_environment

    process = process_environment()

    shown = {k: (v.get("S") if isinstance(v, Mapping) else v) for k, v in key.items()}
    logging.getLogger("anomaly_guardian").error(
        "stored item skipped: it cannot be read", extra={"table": table, "key": shown, "error": type(error).__name__}
    )
    try:
        with single_metric(
            name="StoredItemsUnreadable",
            unit=MetricUnit.Count,
            value=1,
            namespace=process.metrics_namespace,
            default_dimensions={"service": process.service_name},
        ):
            pass
    except Exception:  # a metric must never turn a skipped item into a failed request
        logging.getLogger("anomaly_guardian").exception("could not emit StoredItemsUnreadable")
