"""The Kinesis record format of docs/internals.md, written by ingest and read by the detector.

Data: `{"tenantId": T, "receivedAt": ISO, "event": {...}}` (UTF-8 JSON). Partition key:
`{tenant}#{userId}` for user events, `{tenant}#{service}#{metricName}` for metrics, so one shard owns
each entity's state. Kinesis caps partition keys at 256 characters: longer ones are replaced by
`{tenant}#h#{sha256}` (still stable per entity, so the shard-ownership property holds).
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from anomaly_guardian.models.event import Event, InvalidEvent, describe_validation_error, event_problem

TENANT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
_TENANT_RE = re.compile(TENANT_PATTERN)
MAX_PARTITION_KEY = 256
TenantId = Annotated[str, StringConstraints(pattern=TENANT_PATTERN)]


def valid_tenant(tenant: object) -> bool:
    """Tenant ids never contain '#' (the key separator) and are short, printable identifiers."""
    return isinstance(tenant, str) and bool(_TENANT_RE.match(tenant))


def partition_key(tenant: str, event: dict[str, Any]) -> str:
    if event.get("eventType") == "metric":
        key = f"{tenant}#{event.get('service')}#{event.get('metricName')}"
    else:
        key = f"{tenant}#{event.get('userId')}"
    if len(key) > MAX_PARTITION_KEY:
        key = f"{tenant}#h#{hashlib.sha256(key.encode()).hexdigest()}"
    return key


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode_record(tenant: str, event: dict[str, Any], received_at: str) -> bytes:
    return json.dumps(
        {"tenantId": tenant, "receivedAt": received_at, "event": event},
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,  # NaN/Infinity are not JSON: never put them on the stream
    ).encode()


class Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore")

    tenantId: TenantId
    receivedAt: datetime
    event: Event


def decode_record(data: bytes | str, within: str | None = None) -> Envelope:
    """Parse and validate one record (raw JSON bytes; one pydantic pass). Raises InvalidEvent naming the field
    (`within="event"`: relative to the event, as its sender wrote it)."""
    try:
        env = Envelope.model_validate_json(data)
    except ValidationError as exc:
        message, field = describe_validation_error(exc, within)
        raise InvalidEvent(message, field) from None
    if env.receivedAt.tzinfo is None:
        env.receivedAt = env.receivedAt.replace(tzinfo=UTC)
    return env


def _utf8(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return False
    except (ValueError, TypeError):
        return True
    return True


def admit(tenant: str, event: dict[str, Any], received_at: str) -> tuple[bytes, Envelope]:
    """The one gate for what may enter the stream: the record exactly as it will be written, checked by
    exactly the parser (and limits) the detector decodes it with. Raises InvalidEvent naming the problem."""
    problem = event_problem(event)  # the model's own check, first: names the field before the parser's limits
    if problem:
        raise InvalidEvent(problem)
    try:
        data = encode_record(tenant, event, received_at)
    except UnicodeEncodeError:  # JSON "\ud800" escapes decode to unpaired surrogates
        field = next((k for k, v in event.items() if not _utf8(k) or not _utf8(v)), None)
        where = f"Invalid field {field}: " if field else ""
        raise InvalidEvent(f"{where}contains an unpaired UTF-16 surrogate; send valid Unicode text", field) from None
    except (ValueError, RecursionError):  # NaN, Infinity, a number too large for a double (1e400), too deep
        raise InvalidEvent("contains NaN, Infinity, an out-of-range number or too deep nesting") from None
    return data, decode_record(data, within="event")


__all__ = ["Envelope", "admit", "decode_record", "encode_record", "now_iso", "partition_key", "valid_tenant"]
