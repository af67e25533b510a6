"""POST /events: validate, authorise the tenant, consult the block list, write to Kinesis.

Pure logic: the stream and the block list are ports (see `RecordSink`, `BlockList`), so every rule
here is unit-tested without AWS; `adapters/kinesis.py` and `adapters/blocklist.py` implement them.

Rules (the documented contract):
- Content-Type must be `application/json` (parameters such as charset allowed) -> else 415.
- Body at most 1 MiB (`MAX_BODY_BYTES`) -> else 413; each event at most 64 KiB as stored
  (`MAX_EVENT_BYTES`) -> else 413 naming the index. 1 MiB keeps one PutRecords call well under
  Kinesis' 5 MiB request limit; 64 KiB keeps anomaly/state items far from DynamoDB's 400 KB.
- One event or `{"events": [...]}` with at most 500. All-or-nothing: any invalid event -> 400 naming
  it (`events[3]: Missing required field: userId`) and nothing is written. Duplicate eventIds in one
  request are invalid too.
- The tenant comes from the authorizer (never the body). A `tenantId` in an event is *rejected*
  (400), not ignored: a sender that believes it routes by body field must find out, not have its
  events land silently in another tenant.
- Blocked source IP -> 403 `SOURCE_BLOCKED`; an event whose `ipAddress` or (pseudonymised) `userId`
  is on the block list -> 403 `EVENT_BLOCKED` naming the events; nothing is written.
- PutRecords retries only the entries the partial failure names (bounded, exponential backoff with
  jitter). Anything still failing -> 503 listing `notAccepted` eventIds (and the `accepted` ones,
  which did land). Never reports acceptance of a record that did not land.
- An eventId already accepted (the `Receipts` port: eventId -> keyed digest of the payload, kept for the
  detector's dedupe window) is not sent again. Same payload: a retry, reported as accepted. A different
  payload: listed in `duplicates` (eventId, reason) and not sent; the rest of the request goes ahead.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from anomaly_guardian.ingest.envelope import admit, now_iso, partition_key, valid_tenant
from anomaly_guardian.models.event import Event, InvalidEvent, split_body
from anomaly_guardian.privacy import Pseudonymiser
from anomaly_guardian.transient import RETRY_AFTER_SECONDS, is_transient

MAX_BODY_BYTES = 1024 * 1024
MAX_EVENT_BYTES = 64 * 1024
PUT_ATTEMPTS = 4
PUT_BUDGET_S = 5.0  # no new PutRecords attempt starts after this (the function has 10 s, API Gateway 29 s)
RECORD_DEADLINE_S = 7.0  # receipts of landed events are not written once the request is this late
MAX_NAMED = 10  # at most this many indexes/ids named in one error message

log = logging.getLogger(__name__)


class RecordSink(Protocol):
    def put(self, entries: Sequence[tuple[bytes, str]]) -> list[str | None]:
        """One PutRecords call: per entry None (landed) or an error code (did not land)."""


class Receipts(Protocol):
    def previous(self, tenant: str, event_ids: Sequence[str]) -> dict[str, str]:
        """{eventId: payload digest} of the given ids this tenant already had accepted (within the TTL)."""

    def record(self, tenant: str, digests: Mapping[str, str]) -> None:
        """Remember these events (eventId -> payload digest) as accepted."""


DIFFERENT_PAYLOAD = "DIFFERENT_PAYLOAD"


def canonical(event: Mapping[str, Any]) -> str:
    """The event as sent, in one spelling (sorted keys, no whitespace): what "the same payload" compares."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


class BlockList(Protocol):
    def blocked(self, tenant: str, ips: set[str], users: set[str]) -> set[tuple[str, str]]:
        """The active entries among the given IPs / user pseudonyms, as ('IP', ip) / ('USER', pseudonym)."""


@dataclass
class IngestRequest:
    body: str | bytes | None
    content_type: str | None
    tenant: str | None
    source_ip: str | None = None
    is_base64: bool = False


@dataclass
class IngestResponse:
    status: int
    body: dict[str, Any]
    accepted: int = 0
    rejected_code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    duplicates: int = 0


@dataclass
class IngestError(Exception):
    status: int
    code: str
    message: str
    extra: dict[str, Any] = field(default_factory=dict)

    def response(self) -> IngestResponse:
        body = {"status": "error", "code": self.code, "message": self.message, **self.extra}
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if self.status == 503 else {}
        accepted = int(self.extra.get("accepted") or 0)
        duplicates = len(self.extra.get("duplicates") or ())
        return IngestResponse(
            self.status, body, accepted=accepted, rejected_code=self.code, headers=headers, duplicates=duplicates
        )


def _names(items: Sequence[Any]) -> str:
    shown = ", ".join(str(i) for i in items[:MAX_NAMED])
    return shown + (f" and {len(items) - MAX_NAMED} more" if len(items) > MAX_NAMED else "")


def check_content_type(content_type: str | None) -> None:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        shown = media or "none"
        raise IngestError(415, "UNSUPPORTED_MEDIA_TYPE", f"Content-Type must be application/json, got {shown}")


def decode_body(request: IngestRequest) -> bytes:
    body = request.body
    if body is None:
        return b""
    raw = body.encode() if isinstance(body, str) else bytes(body)
    if request.is_base64:
        if len(raw) > MAX_BODY_BYTES * 4 // 3 + 4:
            raise IngestError(413, "PAYLOAD_TOO_LARGE", f"Request body exceeds {MAX_BODY_BYTES} bytes")
        try:
            raw = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise IngestError(400, "INVALID_PAYLOAD", "Request body is not valid base64") from None
    if len(raw) > MAX_BODY_BYTES:
        raise IngestError(
            413, "PAYLOAD_TOO_LARGE", f"Request body is {len(raw)} bytes; at most {MAX_BODY_BYTES} are accepted"
        )
    return raw


def validate_events(raw_body: bytes) -> tuple[list[dict[str, Any]], bool]:
    """Decode and check the body's shape; returns (events, is_batch). Each event is then admitted by
    `admit_events` (the detector's own parser on the record as it will be written). All-or-nothing."""
    try:
        events = split_body(raw_body)
    except InvalidEvent as exc:
        raise IngestError(400, "INVALID_PAYLOAD", exc.message) from None
    is_batch = _is_batch(raw_body)
    for i, event in enumerate(events):
        if "tenantId" in event:
            where = f"events[{i}]: " if is_batch else ""
            raise IngestError(
                400,
                "INVALID_PAYLOAD",
                f"{where}Field tenantId is not accepted: the tenant is taken from your credentials",
            )
    return events, is_batch


def admit_events(
    tenant: str, events: list[dict[str, Any]], is_batch: bool, received_at: str
) -> list[tuple[bytes, str, Event]]:
    """Every event as the record the stream will carry, accepted only if the detector can decode it
    (`envelope.admit`) and it fits the per-event size; duplicate eventIds in one request are refused."""
    out: list[tuple[bytes, str, Event]] = []
    seen: dict[str, int] = {}
    for i, event in enumerate(events):
        where = f"events[{i}]: " if is_batch else ""
        try:
            data, envelope = admit(tenant, event, received_at)
        except InvalidEvent as exc:
            message = exc.message
            if message.startswith("contains"):
                message = ("The event " if not is_batch else "") + message
            raise IngestError(400, "INVALID_PAYLOAD", f"{where}{message}") from None
        if len(data) > MAX_EVENT_BYTES:
            name = f"events[{i}]" if is_batch else "Event"
            raise IngestError(
                413, "PAYLOAD_TOO_LARGE", f"{name} is {len(data)} bytes; at most {MAX_EVENT_BYTES} per event"
            )
        parsed = envelope.event
        first = seen.setdefault(parsed.eventId, i)
        if first != i:
            raise IngestError(
                400, "INVALID_PAYLOAD", f"{where}Duplicate eventId {parsed.eventId!r} (also at events[{first}])"
            )
        out.append((data, partition_key(tenant, event), parsed))
    return out


def _is_batch(raw_body: bytes) -> bool:
    # split_body accepted it, so it is valid JSON; the same rule as split_body's.
    data = json.loads(raw_body)
    return isinstance(data, dict) and "events" in data and "eventId" not in data


class IngestService:
    def __init__(
        self,
        sink: RecordSink,
        blocklist: BlockList | None = None,
        pseudonymiser: Pseudonymiser | None = None,
        *,
        receipts: Receipts | None = None,
        receipt_ttl_hours: int = 168,
        clock: Callable[[], str] = now_iso,
        sleep: Callable[[float], None] = time.sleep,
        attempts: int = PUT_ATTEMPTS,
        budget_s: float = PUT_BUDGET_S,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timer = timer
        self.budget_s = budget_s
        self.sink = sink
        self.blocklist = blocklist
        self.receipts = receipts
        self.receipt_ttl_hours = receipt_ttl_hours
        self.pseudonymiser = pseudonymiser or Pseudonymiser()
        self.clock = clock
        self.sleep = sleep
        self.attempts = attempts

    def handle(self, request: IngestRequest) -> IngestResponse:
        try:
            return self._handle(request)
        except IngestError as err:
            return err.response()

    def _handle(self, request: IngestRequest) -> IngestResponse:
        started = self.timer()
        if not valid_tenant(request.tenant):
            raise IngestError(401, "UNAUTHORIZED", "No tenant in the caller's identity; check the credentials")
        tenant = str(request.tenant)
        check_content_type(request.content_type)
        raw = decode_body(request)
        events, is_batch = validate_events(raw)
        received_at = self.clock()
        admitted = admit_events(tenant, events, is_batch, received_at)
        entries = [(data, key) for data, key, _ in admitted]
        ids = [str(e["eventId"]).strip() for e in events]
        try:
            self._check_blocklist(tenant, request.source_ip, events, is_batch)
        except Exception as exc:
            if not is_transient(exc):
                raise
            raise IngestError(
                503,
                "UNAVAILABLE",
                f"The block list could not be read ({type(exc).__name__}); nothing was accepted, retry the request",
                {"accepted": 0, "acceptedEventIds": [], "notAccepted": ids},
            ) from None

        digests = [self.pseudonymiser.payload(tenant, canonical(e)) for e in events]
        previous = self._previous(tenant, ids)
        send: list[int] = []  # request indexes to put on the stream
        duplicates: list[dict[str, Any]] = []
        for i, event_id in enumerate(ids):
            before = previous.get(event_id)
            if before is None:
                send.append(i)
            elif before != digests[i]:
                duplicates.append(self._duplicate(i, event_id, is_batch))
            # else: a retry of an event already accepted: reported as accepted, not sent again
        skipped = {d["eventId"] for d in duplicates}

        failed_at = put_with_retry(
            self.sink, [entries[i] for i in send], self.attempts, self.sleep, budget_s=self.budget_s
        )
        failed = {send[j] for j in failed_at}
        self._record(tenant, {ids[i]: digests[i] for i in send if i not in failed}, started)
        accepted = [event_id for i, event_id in enumerate(ids) if i not in failed and event_id not in skipped]
        if failed:
            not_accepted = [ids[i] for i in sorted(failed)]
            raise IngestError(
                503,
                "UNAVAILABLE",
                f"{len(not_accepted)} event(s) were not accepted, retry them: {_names(not_accepted)}",
                {
                    "accepted": len(accepted),
                    "acceptedEventIds": accepted,
                    "notAccepted": not_accepted,
                    "duplicates": duplicates,
                },
            )
        if is_batch:
            message = "Events received"
            if duplicates:
                message += f"; {len(duplicates)} not accepted: eventId already used with a different payload"
            body = {
                "status": "success",
                "message": message,
                "accepted": len(accepted),
                "eventIds": accepted,
                "duplicates": duplicates,
                "timestamp": received_at,
            }
        else:
            message = "Event received" if accepted else duplicates[0]["message"]
            body = {
                "status": "success",
                "message": message,
                "eventId": ids[0],
                "accepted": len(accepted),
                "duplicates": duplicates,
                "timestamp": received_at,
            }
        return IngestResponse(202, body, accepted=len(accepted), duplicates=len(duplicates))

    def _duplicate(self, index: int, event_id: str, is_batch: bool) -> dict[str, Any]:
        where = f"events[{index}]: " if is_batch else ""
        entry: dict[str, Any] = {
            "eventId": event_id,
            "reason": DIFFERENT_PAYLOAD,
            "message": (
                f"{where}eventId {event_id!r} was already accepted with a different payload in the last "
                f"{self.receipt_ttl_hours} h; this event was not accepted (send it under a new eventId)"
            ),
        }
        if is_batch:
            entry["index"] = index
        return entry

    def _previous(self, tenant: str, ids: list[str]) -> dict[str, str]:
        if self.receipts is None:
            return {}
        try:
            return self.receipts.previous(tenant, ids)
        except Exception as exc:
            if not is_transient(exc):
                raise
            raise IngestError(
                503,
                "UNAVAILABLE",
                f"Earlier receipts could not be read ({type(exc).__name__}); nothing was accepted, retry the request",
                {"accepted": 0, "acceptedEventIds": [], "notAccepted": ids},
            ) from None

    def _record(self, tenant: str, digests: dict[str, str], started: float) -> None:
        """Best effort: the events have landed whatever happens here. A receipt that could not be written
        only means a retry is sent again (the detector deduplicates it) and a different payload under
        that id is not caught here. Skipped when the request is already late (the answer must leave
        within the function's 10 s; the receipts client itself gives up within about 2.5 s)."""
        if self.receipts is None or not digests:
            return
        if self.timer() - started > RECORD_DEADLINE_S:
            log.error("ingest receipts skipped (request already late): %d event(s)", len(digests))
            return
        try:
            self.receipts.record(tenant, digests)
        except Exception as exc:  # never a 5xx for events that landed
            log.error("ingest receipts not written (%s): %d event(s)", type(exc).__name__, len(digests))

    def _check_blocklist(
        self, tenant: str, source_ip: str | None, events: list[dict[str, Any]], is_batch: bool
    ) -> None:
        if self.blocklist is None:
            return
        ips = {str(e["ipAddress"]) for e in events if e.get("ipAddress")}
        if source_ip:
            ips.add(source_ip)
        users = {self.pseudonymiser.user(tenant, str(e["userId"]).strip()) for e in events}
        hits = self.blocklist.blocked(tenant, ips, users)
        if not hits:
            return
        if source_ip and ("IP", source_ip) in hits:
            raise IngestError(403, "SOURCE_BLOCKED", "Requests from this source IP are blocked for this tenant")
        bad = [
            i
            for i, e in enumerate(events)
            if ("IP", str(e.get("ipAddress"))) in hits
            or ("USER", self.pseudonymiser.user(tenant, str(e["userId"]).strip())) in hits
        ]
        where = f"events[{_names(bad)}]" if is_batch else "The event"
        raise IngestError(
            403, "EVENT_BLOCKED", f"{where}: the user or ipAddress is on the block list; nothing was accepted"
        )


def iam_candidates(identity: Mapping[str, Any]) -> list[str]:
    """Most to least specific: the caller ARN, its IAM role ARN when it is an assumed-role session
    (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION` -> `arn:aws:iam::ACCOUNT:role/ROLE`), the account."""
    out = []
    arn = str(identity.get("userArn") or "")
    if arn:
        out.append(arn)
        parts = arn.split(":", 5)
        if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
            role = parts[5].split("/")[1]
            out.append(f"arn:{parts[1]}:iam::{parts[4]}:role/{role}")
    if identity.get("accountId"):
        out.append(str(identity["accountId"]))
    return out


def put_with_retry(
    sink: RecordSink,
    entries: Sequence[tuple[bytes, str]],
    attempts: int = PUT_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
    budget_s: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> set[int]:
    """Indexes of entries that never landed after bounded retries of only the failed ones (jittered backoff).
    A transient exception of a call (timeout, connection error, throttling) counts as that call's entries
    not landing; no new attempt starts once `budget_s` has passed."""
    pending = list(range(len(entries)))
    started = clock()
    for attempt in range(attempts):
        try:
            results = sink.put([entries[i] for i in pending])
        except Exception as exc:
            if not is_transient(exc):
                raise
            results = ["Unavailable"] * len(pending)
        pending = [i for i, err in zip(pending, results, strict=True) if err is not None]
        if not pending:
            return set()
        if budget_s is not None and clock() - started >= budget_s:
            break
        if attempt + 1 < attempts:
            sleep(0.05 * (2**attempt) * (0.5 + random.random() / 2))
    return set(pending)


def request_from_apigw(event: Mapping[str, Any], iam_tenants: Mapping[str, str] | None = None) -> IngestRequest:
    """Build the request from an API Gateway REST (v1) proxy event.

    Tenant: `requestContext.authorizer.tenantId` (Lambda authorizer context), or `claims.tenantId` /
    `claims["custom:tenantId"]` (Cognito), or, for IAM-authorised callers, `iam_tenants[userArn]` (or the
    caller's account id): a mapping configured by the operator, never anything the caller sends.
    """
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    ctx = event.get("requestContext") or {}
    auth = ctx.get("authorizer") or {}
    identity = ctx.get("identity") or {}
    claims = auth.get("claims") or {}
    tenant = auth.get("tenantId") or (auth.get("lambda") or {}).get("tenantId")
    tenant = tenant or claims.get("tenantId") or claims.get("custom:tenantId")
    if not tenant and iam_tenants:
        for candidate in iam_candidates(identity):
            tenant = iam_tenants.get(candidate)
            if tenant:
                break
    return IngestRequest(
        body=event.get("body"),
        content_type=headers.get("content-type"),
        tenant=tenant,
        source_ip=identity.get("sourceIp"),
        is_base64=bool(event.get("isBase64Encoded")),
    )


__all__ = [
    "MAX_BODY_BYTES",
    "MAX_EVENT_BYTES",
    "IngestError",
    "IngestRequest",
    "IngestResponse",
    "IngestService",
    "Receipts",
    "request_from_apigw",
]
