"""`guardian replay`: run exactly the detector pipeline over a JSON-lines file of events.

Ordering is global: events are processed in event-time order across the whole file, even if the
file is not sorted. Pass 1 indexes the file (byte offset and event time per line, 16 bytes a line,
no events kept); if the times are already non-decreasing, pass 2 streams the file sequentially,
otherwise it reads lines in time order by seeking. Pass 2 parses and validates each line with the
event contract and feeds the pipeline in chunks (`chunk_size` events per `process` call), so memory
stays bounded by the chunk and the index. A bad line is reported with its number and reason and
skipped; the run goes on. Output: one anomaly per line in the GET /anomalies item format.
"""

from __future__ import annotations

import gc
import itertools
import re
import sys
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from anomaly_guardian.detection.pipeline import DetectionPipeline
from anomaly_guardian.models.event import Event, InvalidEvent, parse_event
from anomaly_guardian.state.store import InMemoryStateStore

DEFAULT_CHUNK = 2000
MAX_REPORTED_ERRORS = 1000
_TS = re.compile(rb'"timestamp"\s*:\s*"([^"]{10,40})"')
_NEG_INF = float("-inf")


@dataclass
class ReplaySummary:
    lines: int = 0
    events: int = 0
    rejected: int = 0
    anomalies: int = 0
    by_type: Counter = field(default_factory=Counter)
    by_severity: Counter = field(default_factory=Counter)
    seconds: float = 0.0  # wall clock
    cpu_seconds: float = 0.0  # this process's CPU time (the fair figure on a shared machine)
    sorted_input: bool = True
    errors: list[str] = field(default_factory=list)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    @property
    def events_per_cpu_second(self) -> float:
        return self.events / self.cpu_seconds if self.cpu_seconds > 0 else 0.0


def _epoch(line: bytes, parse: Callable[[bytes], Event] = parse_event) -> float:
    """Event time of a raw line, cheaply (regex + fromisoformat), else `parse` (the line's event);
    -inf if it cannot be read here."""
    m = _TS.search(line)
    if m is not None:
        try:
            dt = datetime.fromisoformat(m.group(1).decode())
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
            return dt.timestamp()
        except ValueError:
            pass
    try:  # rare: numeric timestamps and the like; a line that fails here is reported in pass 2
        return parse(line).timestamp.timestamp()
    except InvalidEvent:
        return _NEG_INF


def index_file(path: Path) -> tuple[array, array, bool]:
    """(byte offsets, event times, already sorted) for every line of the file."""
    offsets, epochs = array("q"), array("d")
    ordered = True
    last = _NEG_INF
    pos = 0
    search = _TS.search
    fromiso = datetime.fromisoformat
    with path.open("rb") as f:
        for line in f:
            offsets.append(pos)
            pos += len(line)
            m = search(line)
            e = _NEG_INF
            if m is not None:
                try:
                    dt = fromiso(m.group(1).decode())
                    e = (dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)).timestamp()
                except ValueError:
                    e = _epoch(line)
            elif line.strip():
                e = _epoch(line)
            epochs.append(e)
            if e == _NEG_INF:  # unreadable here: reported in pass 2, does not make the file "unsorted"
                continue
            if e < last:
                ordered = False
            elif e > last:
                last = e
    return offsets, epochs, ordered


def _lines_in_order(path: Path, offsets: array, epochs: array, ordered: bool) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as f:
        if ordered:
            yield from enumerate(f, start=1)
            return
        order = sorted(range(len(offsets)), key=epochs.__getitem__)
        for i in order:
            f.seek(offsets[i])
            yield i + 1, f.readline()


def replay(
    input_path: str | Path,
    output: IO[str],
    tenant: str = "local",
    chunk_size: int = DEFAULT_CHUNK,
    pipeline: DetectionPipeline | None = None,
    progress: bool = True,
    errors: IO[str] | object | None = "stderr",
) -> ReplaySummary:
    """Replay a file; `errors` gets one line per rejected input line (default: sys.stderr; None: quiet)."""
    if errors == "stderr":
        errors = sys.stderr
    path = Path(input_path)
    pipeline = pipeline or DetectionPipeline(InMemoryStateStore())  # imports/model loading: not timed
    started = (time.perf_counter(), time.process_time())
    # Event objects hold no reference cycles, so the cyclic GC only costs time here; memory is freed
    # by reference counting as each chunk is dropped.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _run(path, output, tenant, chunk_size, pipeline, progress, errors, started)
    finally:
        if gc_was_enabled:
            gc.enable()


def _run(path, output, tenant, chunk_size, pipeline, progress, errors, started) -> ReplaySummary:
    from tqdm import tqdm

    offsets, epochs, ordered = index_file(path)
    summary = ReplaySummary(lines=len(offsets), sorted_input=ordered)
    chunk: list[Event] = []
    write = output.write

    def flush() -> None:
        for anomaly in pipeline.process(tenant, chunk):
            write(anomaly.model_dump_json())
            write("\n")
            summary.anomalies += 1
            summary.by_type[anomaly.anomalyType] += 1
            summary.by_severity[anomaly.severity] += 1
        summary.events += len(chunk)
        chunk.clear()

    bar = tqdm(total=len(offsets), unit="ev", file=sys.stderr, disable=not progress, mininterval=0.5)
    pending = 0
    for number, line in _lines_in_order(path, offsets, epochs, ordered):
        pending += 1
        if pending >= 1000:
            bar.update(pending)
            pending = 0
        if not line.strip():
            continue
        try:
            chunk.append(parse_event(line))
        except InvalidEvent as exc:
            summary.rejected += 1
            message = f"line {number}: {exc.message}"
            if len(summary.errors) < MAX_REPORTED_ERRORS:
                summary.errors.append(message)
            if errors is not None:
                bar.write(f"guardian replay: {message}", file=errors)
            continue
        if len(chunk) >= chunk_size:
            flush()
    if chunk:
        flush()
    bar.update(pending)
    bar.close()
    summary.seconds = time.perf_counter() - started[0]
    summary.cpu_seconds = time.process_time() - started[1]
    return summary


def format_summary(s: ReplaySummary) -> str:
    """The end-of-run report (also used by `guardian demo` and `guardian eval`)."""
    lines = [
        f"events processed: {s.events:,}   rejected lines: {s.rejected:,}   anomalies: {s.anomalies:,}",
        f"throughput: {s.events_per_second:,.0f} events/s ({s.seconds:.2f} s wall; "
        f"{s.events_per_cpu_second:,.0f} events per CPU second; "
        f"{'input already in time order' if s.sorted_input else 'input re-ordered by event time'})",
    ]
    if s.by_type:
        lines.append("by type:     " + ", ".join(f"{k}={v}" for k, v in sorted(s.by_type.items())))
    if s.by_severity:
        order = ["CRITICAL", "HIGH", "MEDIUM", "LOW"]
        lines.append("by severity: " + ", ".join(f"{k}={s.by_severity[k]}" for k in order if s.by_severity.get(k)))
    return "\n".join(lines)


# --- CloudTrail as delivered (`guardian replay --source cloudtrail FILE...`) -------------------------


def _open_bytes(path: Path) -> bytes:
    import gzip

    data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def cloudtrail_records(path: Path) -> Iterator[tuple[str, object]]:
    """(position, record or error text) for every CloudTrail record in one file.

    A file is either a CloudTrail log file (`{"Records": [...]}`, as the trail writes to S3) or JSON
    lines, each a record or itself a `{"Records": [...]}` document; gzip or not (by its magic bytes).
    Positions read `Records[i]` or `line n` (`line n Records[i]`), for the error report.
    """
    import json

    text = _open_bytes(path).decode("utf-8", errors="replace")
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None  # not one document: JSON lines
        if isinstance(doc, dict) and isinstance(doc.get("Records"), list):
            for i, rec in enumerate(doc["Records"]):
                yield f"Records[{i}]", rec
            return
        if isinstance(doc, dict):
            yield "line 1", doc
            return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as exc:
            yield f"line {number}", f"not JSON: {exc}"
            continue
        if isinstance(rec, dict) and isinstance(rec.get("Records"), list):
            for i, inner in enumerate(rec["Records"]):
                yield f"line {number} Records[{i}]", inner
        else:
            yield f"line {number}", rec


def replay_cloudtrail(
    paths: list[str | Path],
    output: IO[str],
    tenant: str = "local",
    chunk_size: int = DEFAULT_CHUNK,
    pipeline: DetectionPipeline | None = None,
    progress: bool = True,
    errors: IO[str] | object | None = "stderr",
) -> ReplaySummary:
    """Replay CloudTrail files through the detector pipeline in event-time order (across all files).

    Each record becomes the same contract event the usage-ingest Lambda puts on the stream
    (`usage.cloudtrail.to_event`), so `originalEvent.eventId` is the record's `eventID`. A bad record
    is reported as `FILE: POSITION: reason` and skipped. The files' events are held in memory
    (a day of a busy account's trail is a few hundred thousand records).
    """
    from anomaly_guardian.usage.cloudtrail import to_event

    if errors == "stderr":
        errors = sys.stderr
    pipeline = pipeline or DetectionPipeline(InMemoryStateStore())
    started = (time.perf_counter(), time.process_time())
    summary = ReplaySummary()
    parsed: list[Event] = []

    def reject(where: str, reason: str) -> None:
        summary.rejected += 1
        message = f"{where}: {reason}"
        if len(summary.errors) < MAX_REPORTED_ERRORS:
            summary.errors.append(message)
        if errors is not None:
            print(f"guardian replay: {message}", file=errors)

    for raw_path in paths:
        path = Path(raw_path)
        try:
            items = list(cloudtrail_records(path))
        except OSError as exc:
            reject(str(path), f"cannot read: {exc.strerror or exc}")
            continue
        for position, rec in items:
            summary.lines += 1
            where = f"{path}: {position}"
            if isinstance(rec, str):
                reject(where, rec)
                continue
            if not isinstance(rec, dict) or not all(rec.get(k) for k in ("eventID", "eventName", "eventTime")):
                reject(where, "not a CloudTrail record (needs eventID, eventName and eventTime)")
                continue
            try:
                parsed.append(parse_event(to_event(rec)))
            except InvalidEvent as exc:
                reject(where, exc.message)
    times = [e.timestamp.timestamp() for e in parsed]
    summary.sorted_input = all(a <= b for a, b in itertools.pairwise(times))
    parsed.sort(key=lambda e: e.timestamp)
    for start in range(0, len(parsed), chunk_size):
        chunk = parsed[start : start + chunk_size]
        for anomaly in pipeline.process(tenant, chunk):
            output.write(anomaly.model_dump_json())
            output.write("\n")
            summary.anomalies += 1
            summary.by_type[anomaly.anomalyType] += 1
            summary.by_severity[anomaly.severity] += 1
        summary.events += len(chunk)
    summary.seconds = time.perf_counter() - started[0]
    summary.cpu_seconds = time.process_time() - started[1]
    return summary
