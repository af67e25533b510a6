"""The event contract (docs/architecture.md, "Event"): what POST /events and the Kinesis stream carry.

Validation errors are turned into one sentence that names the field and the problem, because
the caller is a person reading an HTTP 400 or a replay log line, not a pydantic traceback.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from anomaly_guardian.geo import GeoPoint, resolve_geo

MAX_BATCH_EVENTS = 500
NonEmpty = Annotated[str, StringConstraints(min_length=1, max_length=256, strip_whitespace=True)]
# Numbers are JSON numbers: no booleans, no numeric strings ("12"); ints are taken as floats.
Number = Annotated[float, Strict()]
# What may enter (docs/data-plane.md): the same limits on ingest and in the detector, chosen so that every
# accepted event can be decoded by the detector's parser and every value it carries can be stored.
MAX_EVENT_DEPTH = 32  # objects/arrays nested inside one event (DynamoDB's own limit for a stored document)
DYNAMODB_NUMBER_LIMIT = 10**126  # DynamoDB keeps magnitudes below this (at most 9.99...e125)
DYNAMODB_MIN_NUMBER = 1e-130  # DynamoDB's smallest non-zero magnitude
DYNAMODB_MAX_DIGITS = 38  # significant digits DynamoDB keeps
KNOWN_EVENT_TYPES = frozenset({"transaction", "login", "pageview", "api_request", "metric"})


class InvalidEvent(ValueError):
    """A payload that breaks the event contract; `str()` is a message a person can act on."""

    code = "INVALID_PAYLOAD"

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class Event(BaseModel):
    """One event. Unknown extra fields are kept (forward compatible), but never trusted for tenancy."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=False)

    eventId: NonEmpty
    userId: NonEmpty
    timestamp: datetime
    eventType: NonEmpty
    transactionAmount: Number | None = Field(default=None, ge=0, allow_inf_nan=False)
    requestsPerSecond: Number | None = Field(default=None, ge=0, allow_inf_nan=False)
    userAgent: str | None = Field(default=None, max_length=2048)
    ipAddress: str | None = Field(default=None, max_length=64)
    sessionLength: Number | None = Field(default=None, ge=0, allow_inf_nan=False)
    sessionId: str | None = Field(default=None, max_length=256)
    deviceId: str | None = Field(default=None, max_length=256)
    geoLocation: GeoPoint | None = None
    metadata: dict[str, Any] | None = None
    service: str | None = Field(default=None, max_length=256)
    metricName: str | None = Field(default=None, max_length=256)
    metricValue: Number | None = Field(default=None, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        # Before field parsing, on the raw values: nesting depth, empty keys and the DynamoDB number
        # range, for every field including metadata, geoLocation and unknown extra fields.
        problem = event_problem(data) if isinstance(data, dict) else None
        if problem:
            raise ValueError(problem)
        return data

    @field_validator("timestamp")
    @classmethod
    def _aware_utc(cls, value: datetime) -> datetime:
        # Naive timestamps are taken as UTC so event-time arithmetic never mixes zones.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @field_validator("geoLocation", mode="before")
    @classmethod
    def _resolve_geo(cls, value: Any) -> Any:
        return resolve_geo(value)

    @model_validator(mode="after")
    def _metric_fields(self) -> Event:
        if self.eventType == "metric":
            for name in ("service", "metricName", "metricValue"):
                if getattr(self, name) is None:
                    raise ValueError(f"Missing required field for a metric event: {name}")
        return self

    @property
    def epoch(self) -> float:
        return self.timestamp.timestamp()

    def summary(self) -> dict[str, Any]:
        """The part of the event an anomaly keeps as `originalEvent` (no raw PII beyond the contract)."""
        out: dict[str, Any] = {
            "eventId": self.eventId,
            "timestamp": self.timestamp.isoformat().replace("+00:00", "Z"),
            "eventType": self.eventType,
        }
        for name in ("transactionAmount", "requestsPerSecond", "sessionLength", "service", "metricName", "metricValue"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


def number_problem(value: int | float) -> str | None:
    """Why DynamoDB could not store this number (None when it can)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        digits = len(str(abs(value)).rstrip("0")) if value else 1
        if digits > DYNAMODB_MAX_DIGITS or abs(value) >= DYNAMODB_NUMBER_LIMIT:
            return f"number {str(value)[:24]} has more than {DYNAMODB_MAX_DIGITS} digits or is out of range"
        return None
    if value != value or value in (float("inf"), float("-inf")):
        return "NaN and Infinity are not numbers"
    magnitude = abs(value)
    if magnitude >= 1e126:  # compared as floats: the text repr() writes is what a store parses
        return f"number {value!r} is out of range (stores keep magnitudes below 1e126)"
    if 0 < magnitude < DYNAMODB_MIN_NUMBER:
        return f"number {value!r} is smaller than {DYNAMODB_MIN_NUMBER:g} (the smallest non-zero a store keeps)"
    return None


def storable_problem(value: Any, depth: int = 1, limit: int = MAX_EVENT_DEPTH) -> str | None:
    """The first reason a JSON value cannot be kept as it is (too deep, an empty or over-long map key,
    a number out of DynamoDB's range), or None. `depth` is the nesting level of `value` itself."""
    if isinstance(value, (int, float)):
        return number_problem(value)
    if isinstance(value, (dict, list)):
        if depth > limit:
            return f"nested deeper than {limit} levels"
        if isinstance(value, dict):
            for key, item in value.items():
                if not key:
                    return "object keys must not be empty"
                if len(key) > 255:
                    return "object keys must be at most 255 characters"
                problem = storable_problem(item, depth + 1, limit)
                if problem:
                    return problem
        else:
            for item in value:
                problem = storable_problem(item, depth + 1, limit)
                if problem:
                    return problem
    return None


def _flat_and_storable(value: dict[str, Any]) -> bool:
    """True for a map of plain strings and ordinary numbers under short, non-empty keys (nothing to walk);
    False sends it to `storable_problem`, which finds the problem if there is one."""
    for key, item in value.items():
        if not key or len(key) > 255:
            return False
        kind = type(item)
        if kind is str or item is None or kind is bool:
            continue
        if kind is float:
            magnitude = abs(item)
            if magnitude < 1e126 and (magnitude >= DYNAMODB_MIN_NUMBER or magnitude == 0.0):
                continue
        elif kind is int and -(10**15) < item < 10**15:
            continue
        return False
    return True


def event_problem(data: dict[str, Any]) -> str | None:
    """'Invalid field metadata: nested deeper than 32 levels' for the first field no store could keep."""
    for name, value in data.items():
        kind = type(value)
        if kind is str or value is None or kind is bool:
            continue
        if kind is float:  # the common case, without the general walk (NaN and infinities fail here too)
            magnitude = abs(value)
            if magnitude < 1e126 and (magnitude >= DYNAMODB_MIN_NUMBER or magnitude == 0.0):
                continue
        elif (kind is int and -(10**15) < value < 10**15) or (kind is dict and _flat_and_storable(value)):
            continue  # a small int, or a flat map such as geoLocation
        if not isinstance(value, str):
            problem = storable_problem(value, 2)
            if problem:
                return f"Invalid field {name}: {problem}"
    return None


class EventBatch(BaseModel):
    events: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH_EVENTS)


_EVENT = TypeAdapter(Event)


def describe_validation_error(exc: ValidationError, within: str | None = None) -> tuple[str, str | None]:
    """First error of a pydantic exception as ('Missing required field: userId', 'userId').
    `within`: a leading location to leave out (the envelope's "event", so names match the body's)."""
    err = exc.errors(include_url=False)[0]
    loc = [str(p) for p in err.get("loc", ()) if p != "__root__"]
    if within and loc and loc[0] == within:
        loc = loc[1:]
    field = ".".join(loc) if loc else None
    kind = err.get("type", "")
    msg = err.get("msg", "invalid value")
    if kind == "missing":
        return f"Missing required field: {field}", field
    if kind == "json_invalid":
        return f"Malformed JSON: {err.get('ctx', {}).get('error', msg)}", None
    if kind in ("model_type", "dict_type") and not loc:
        return "Event must be a JSON object", None
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if field is None:
        return msg, None
    if msg.startswith("Missing required field"):
        return msg, field
    return f"Invalid field {field}: {msg}", field


def parse_event(payload: bytes | str | dict[str, Any]) -> Event:
    """Validate one event from raw JSON bytes/str (fast path) or an already-decoded dict."""
    try:
        if isinstance(payload, dict):
            return _EVENT.validate_python(payload)
        return _EVENT.validate_json(payload)
    except ValidationError as exc:
        message, field = describe_validation_error(exc)
        raise InvalidEvent(message, field) from None


def split_body(body: str | bytes | None) -> list[dict[str, Any]]:
    """Decode a POST /events body into a list of raw event objects (one, or {"events": [...]})."""
    if body is None or (isinstance(body, (str, bytes)) and not body.strip()):
        raise InvalidEvent('Request body is empty; send one event object or {"events": [...]}')
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InvalidEvent(f"Malformed JSON: {exc}") from None
    if isinstance(data, dict) and "events" in data and "eventId" not in data:
        events = data["events"]
        if not isinstance(events, list):
            raise InvalidEvent("Invalid field events: must be a list of event objects", "events")
        if not events:
            raise InvalidEvent("Invalid field events: must contain at least one event", "events")
        if len(events) > MAX_BATCH_EVENTS:
            raise InvalidEvent(
                f"Invalid field events: at most {MAX_BATCH_EVENTS} events per request, got {len(events)}", "events"
            )
        for i, item in enumerate(events):
            if not isinstance(item, dict):
                raise InvalidEvent(f"Invalid field events.{i}: must be a JSON object", f"events.{i}")
        return events
    if not isinstance(data, dict):
        raise InvalidEvent('Event must be a JSON object or {"events": [...]}')
    return [data]
