"""Pure pieces of erasure: who the subject is (`Subject`), which stored records are theirs, how a JSON
document is redacted, and how archive objects (gzip or plain; JSON lines or Firehose's concatenated
`{...}{...}` records) are read and rewritten without the subject's records.
"""

from __future__ import annotations

import gzip
import json
import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

REDACTED = "[erased]"
KEEP = frozenset({"tenantId"})  # fields never redacted
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class Subject:
    """Everything that identifies one person in one tenant, grown while erasing: their raw user id and
    pseudonym, and the raw and pseudonymised IPs and devices, event ids and anomaly ids found for them."""

    tenant: str
    user_id: str
    pseudonym: str
    ips: set[str] = field(default_factory=set)
    ip_pseudonyms: set[str] = field(default_factory=set)
    devices: set[str] = field(default_factory=set)
    device_pseudonyms: set[str] = field(default_factory=set)
    event_ids: set[str] = field(default_factory=set)
    anomaly_ids: set[str] = field(default_factory=set)

    def needles(self) -> list[str]:
        """Identifier strings that must not survive anywhere (longest first, so redaction is clean)."""
        values = {self.user_id, self.pseudonym, *self.ips, *self.ip_pseudonyms, *self.devices, *self.device_pseudonyms}
        return sorted((v for v in values if v), key=len, reverse=True)

    def learn_anomaly(self, anomaly: Mapping[str, Any]) -> None:
        if anomaly.get("anomalyId"):
            self.anomaly_ids.add(str(anomaly["anomalyId"]))
        event_id = (anomaly.get("originalEvent") or {}).get("eventId")
        if event_id:
            self.event_ids.add(str(event_id))
        entities = anomaly.get("entities") or {}
        if entities.get("ip"):
            self.ip_pseudonyms.add(str(entities["ip"]))
        if entities.get("device"):
            self.device_pseudonyms.add(str(entities["device"]))

    def learn_event(self, event: Mapping[str, Any], pseudonymiser: Any) -> None:
        if event.get("eventId"):
            self.event_ids.add(str(event["eventId"]))
        if event.get("ipAddress"):
            self.ips.add(str(event["ipAddress"]))
            self.ip_pseudonyms.add(pseudonymiser.ip(self.tenant, str(event["ipAddress"])))
        if event.get("deviceId"):
            self.devices.add(str(event["deviceId"]))
            self.device_pseudonyms.add(pseudonymiser.device(self.tenant, str(event["deviceId"])))


def is_subjects_record(record: Any, subject: Subject) -> bool:
    """An archived envelope `{tenantId, event: {userId}}` or bare event of this person, or an exported row
    (feedback, anomaly) naming their pseudonym, one of their anomalies or one of their events."""
    if not isinstance(record, Mapping):
        return False
    tenant = record.get("tenantId")
    if tenant not in (None, subject.tenant):
        return False
    event = record.get("event") if isinstance(record.get("event"), Mapping) else record
    if event.get("userId") in (subject.user_id, subject.pseudonym):
        return True
    if record.get("anomalyId") and str(record["anomalyId"]) in subject.anomaly_ids:
        return True
    return tenant == subject.tenant and bool(event.get("eventId")) and str(event["eventId"]) in subject.event_ids


_WORD = r"[\w.@:-]"


@lru_cache(maxsize=64)
def _pattern(needles: tuple[str, ...]) -> re.Pattern[str] | None:
    """A needle matches as a whole token only: `1.2.3.4` in `IP#1.2.3.4`, not in `11.2.3.45`; `alice`
    in `"alice"`, not in `malice`."""
    alternatives = "|".join(re.escape(n) for n in sorted({n for n in needles if n}, key=len, reverse=True))
    return re.compile(rf"(?<!{_WORD})(?:{alternatives})(?!{_WORD})") if alternatives else None


def contains_any(text: str, needles: Iterable[str]) -> bool:
    pattern = _pattern(tuple(needles))
    return bool(pattern and pattern.search(text))


def redact(value: Any, needles: list[str]) -> Any:
    """A copy of a JSON-like value with every needle (as a whole token) inside any string replaced."""
    pattern = _pattern(tuple(needles))
    return _redact(value, pattern) if pattern else value


def _redact(value: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(REDACTED, value)
    if isinstance(value, Mapping):  # the tenant is not the person (even if a user id equals it)
        return {_redact(k, pattern): v if k in KEEP else _redact(v, pattern) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v, pattern) for v in value]
    if isinstance(value, set):
        return {_redact(v, pattern) for v in value}
    return value


@dataclass
class ParsedObject:
    records: list[Any]
    gzipped: bool
    layout: str  # "lines" (JSON lines) or "concatenated" (Firehose: {...}{...} with no delimiter)


def _decode(data: bytes) -> tuple[str, bool] | None:
    gzipped = data[:2] == _GZIP_MAGIC
    try:
        raw = gzip.decompress(data) if gzipped else data
        return raw.decode("utf-8"), gzipped
    except (OSError, EOFError, UnicodeDecodeError):
        return None


def _layout(text: str) -> str:
    return "lines" if "\n" in text.strip() or text.endswith("\n") else "concatenated"


def parse_object(data: bytes) -> ParsedObject | None:
    """The records of a JSON archive object, or None when it is not JSON records (binary, parquet, npz)."""
    decoded = _decode(data)
    spans = _spans(decoded[0]) if decoded else None
    if decoded is None or spans is None:
        return None
    return ParsedObject([r for r, _, _ in spans], decoded[1], _layout(decoded[0]))


def _spans(text: str) -> list[tuple[Any, int, int]] | None:
    """Every JSON value of the text with its [start, end) offsets; None when the text is not JSON values."""
    decoder = json.JSONDecoder()
    out: list[tuple[Any, int, int]] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            break
        try:
            value, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError:
            return None
        out.append((value, i, end))
        i = end
    return out


def mentions(record: Mapping[str, Any], needles: list[str]) -> bool:
    """Whether any field other than the tenant holds one of the needles."""
    body = {k: v for k, v in record.items() if k not in KEEP}
    return contains_any(json.dumps(body, default=str, ensure_ascii=False), needles)


def _same_tenant(record: Any, subject: Subject) -> bool:
    """Identifiers are per tenant: another tenant's `alice` is another person."""
    return not isinstance(record, Mapping) or record.get("tenantId") in (None, subject.tenant)


def looks_binary(head: bytes) -> bool:
    """Not records or text: neither GZIP nor UTF-8 without NUL bytes (a zip/npz, NumPy, parquet, ...)."""
    if head[:2] == _GZIP_MAGIC:
        return False
    text = head.decode("utf-8", errors="ignore")
    return b"\x00" in head or len(text.encode()) < len(head) - 4  # allow a multi-byte char cut at the end


def _redacted_text(text: str, gzipped: bool, subject: Subject) -> bytes | None:
    """A text object that is not JSON records (an HTML or CSV report): the identifiers redacted in place;
    None for text that names nobody (or with NUL bytes: binary)."""
    pattern = _pattern(tuple(subject.needles()))
    if "\x00" in text or pattern is None or not pattern.search(text):
        return None
    out = pattern.sub(REDACTED, text).encode("utf-8")
    return gzip.compress(out, mtime=0) if gzipped else out


def serialise_object(parsed: ParsedObject, records: list[Any]) -> bytes:
    sep = "\n" if parsed.layout == "lines" else ""
    text = "".join(json.dumps(r, separators=(",", ":")) + sep for r in records)
    data = text.encode("utf-8")
    return gzip.compress(data, compresslevel=6, mtime=0) if parsed.gzipped else data


def without_subject(data: bytes, subject: Subject, pseudonymiser: Any) -> tuple[bytes | None, list[Any]]:
    """(the object rewritten without the subject's records, the records removed); (None, []) when the
    object holds none of them. Identifiers found in removed records are added to `subject`. Records that
    are not the subject's but still mention one of their identifiers (e.g. an exported row naming their
    pseudonym) are redacted. Objects that name none of the identifiers (nor, for exported rows, an
    anomaly id) are passed over after one substring scan, without parsing."""
    decoded = _decode(data)
    if decoded is None:
        return None, []
    text, gzipped = decoded
    needles = subject.needles()
    if not any(n in text for n in needles) and not (subject.anomaly_ids and '"anomalyId"' in text):
        return None, []
    layout = _layout(text)
    pieces, starts = _pieces(text, layout)
    removed: list[Any] = []
    records: dict[int, Any] = {}  # piece index -> parsed record (only pieces that name someone we erase)
    gone: set[int] = set()
    for i in sorted(_hits(text, starts, [*needles, *subject.anomaly_ids])):
        try:
            record = json.loads(pieces[i])
        except ValueError:  # not JSON records after all (pretty-printed JSON, HTML, CSV)
            return _redacted_text(text, gzipped, subject), []
        if is_subjects_record(record, subject):
            removed.append(record)
            gone.add(i)
            event = record.get("event") if isinstance(record.get("event"), Mapping) else record
            subject.learn_event(event, pseudonymiser)
        else:
            records[i] = record
    needles = subject.needles()  # now with the IPs and devices of the removed records
    changed = bool(removed)
    for i in sorted(_hits(text, starts, needles) - gone):
        record = records.get(i, _UNPARSED)
        if record is _UNPARSED:
            try:
                record = json.loads(pieces[i])
            except ValueError:
                return _redacted_text(text, gzipped, subject), []
        if isinstance(record, Mapping) and _same_tenant(record, subject) and mentions(record, needles):
            pieces[i] = json.dumps(redact(record, needles), separators=(",", ":"), ensure_ascii=False)
            changed = True
    if not changed:
        return None, []
    out = [p for i, p in enumerate(pieces) if i not in gone]
    body = "".join(p + "\n" for p in out) if layout == "lines" else "".join(out)
    data = body.encode("utf-8")
    return (gzip.compress(data, compresslevel=6, mtime=0) if gzipped else data), removed


def _hits(text: str, starts: list[int], needles: Iterable[str]) -> set[int]:
    """Indexes of the pieces holding any of the needles (str.find over the whole text, no per-piece loop)."""
    out: set[int] = set()
    for n in needles:
        if not n:
            continue
        at = text.find(n)
        while at != -1:
            out.add(bisect_right(starts, at) - 1)
            at = text.find(n, at + 1)
    return out


_UNPARSED = object()


# Between two concatenated records `}{"` can only be a record boundary: inside a JSON string the quote
# would be escaped, and inside one value objects are separated by commas.
_BOUNDARY = re.compile(r'(?<=\})\s*(?=\{")')


def _pieces(text: str, layout: str) -> tuple[list[str], list[int]]:
    """The object's records as text (lines, or concatenated records cut at `}{"`) and their offsets.
    Between two concatenated records `}{"` can only be a boundary: inside a JSON string the quote would
    be escaped, and inside one value objects are separated by commas."""
    if layout == "lines":
        raw = text.split("\n")
        sep = 1
    else:
        parts = text.split('}{"')
        raw = [("" if i == 0 else '{"') + p + ("" if i == len(parts) - 1 else "}") for i, p in enumerate(parts)]
        sep = 0
    pieces, starts, at = [], [], 0
    for piece in raw:
        if piece.strip():
            pieces.append(piece)
            starts.append(at)
        at += len(piece) + sep
    return pieces, starts
