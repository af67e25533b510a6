"""`guardian replay --workers N`: the same replay with its tenants, and their independent streams, on N processes.

Which state a partition must keep together (every key a detector reads or writes, `state_keys`):
- per user: velocity (user window), value, geolocation, behavioural session, rule windows, model features;
- per IP: velocity's IP window, shared by every user behind that IP (a naive per-user split misses
  a credential-stuffing burst spread over many accounts from one address);
- per metric series: the system detector (`tenant#system#service|metric`);
- usage (CloudTrail): per API and per principal, and `_meta`, one item per tenant;
- the tenant itself: the calibration histogram of session timing regularity (`detection.calibration`)
  is fed by every user's sessions and sets the behavioural cut-off for the tenant's next batch.
So a tenant's business events (logins, page views, transactions...) stay together: users are joined
by IPs and all of them by the calibration. What may run apart, results unchanged: tenants (every key
starts with the tenant, pseudonyms are keyed per tenant), and within a tenant its streams: business
events, usage events, and each metric series, as long as the tenant has no rules (a rule window is
per user, and a metric's or a principal's user would join the streams) and the pipeline holds only the
built-in statistical detectors (`split_tenants`); otherwise the tenant is one unit.

The input is one JSON-lines file of events (all of tenant `--tenant`) or of Kinesis envelopes
`{"tenantId", "receivedAt", "event"}` (the event archive's records, one per line), mixed or not, or
archive objects (spooled to one record per line first). The order is global event-time order (ties in
file order); each unit's events reach the pipeline in chunks of `chunk_size` of *that unit's* events,
so a unit's batches, and with them a tenant's calibration, are the same whatever N is. Plan, for every
N (N=1 included, in process): pass 1 indexes the file (offset, event time, tenant and stream per line,
read from the raw text when it has no escapes, JSON-decoded otherwise), in shares on the workers (byte
ranges, or groups of archive objects), merged in file order by the parent; units go to the least-loaded
worker, largest first; each worker reads its lines by offset, in global order, and writes its anomalies
and rejected lines to files, tagged with the global position of the event that closed each batch; the
parent merges them by that tag. So the output (anomaly ids included: derived from tenant, eventId,
receivedAt, detector, type and ordinal as the detector Lambda derives them), its order, the bad line
reports and the summary are the same for any N. Beside the plain replay (`replay.replay`, one mixed
batch sequence per file) the batches differ, which can move a calibration update by a batch: on the
generated streams the findings are the same (tests/unit/test_replay_workers.py), in batch order.
"""

from __future__ import annotations

import gc
import gzip
import hashlib
import heapq
import json
import multiprocessing
import re
import sys
import tempfile
import time
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from anomaly_guardian.detection.batch import deterministic_anomaly_id
from anomaly_guardian.detection.pipeline import DetectionPipeline
from anomaly_guardian.ingest.envelope import decode_record, valid_tenant
from anomaly_guardian.models.anomaly import Anomaly
from anomaly_guardian.models.event import Event, InvalidEvent, parse_event
from anomaly_guardian.replay import DEFAULT_CHUNK, MAX_REPORTED_ERRORS, ReplaySummary
from anomaly_guardian.replay import _epoch as line_epoch
from anomaly_guardian.state.store import InMemoryStateStore
from anomaly_guardian.usage.cloudtrail import EVENT_TYPE as USAGE_EVENT_TYPE

BARE, ENVELOPE = 0, 1
MIN_SEGMENT_BYTES = 8 << 20  # a file is indexed in shares of at least this size
_NEG_INF = float("-inf")
# The ingest's own layout (ingest.envelope.encode_record): the tenant is the record's first key.
_HEAD = re.compile(rb'\{"tenantId":"([A-Za-z0-9][A-Za-z0-9_.\-]{0,63})","receivedAt":"[^"]*","event":\{')
_FIELDS = {k: re.compile(rb'"%s"\s*:\s*"([^"]*)"' % k.encode()) for k in ("eventType", "service", "metricName")}
BUSINESS, USAGE = "", "u"  # streams of a tenant; a metric series is "m<service>\x1f<metricName>"

PipelineFactory = Callable[[], DetectionPipeline]


def default_pipeline() -> DetectionPipeline:
    return DetectionPipeline(InMemoryStateStore())


@dataclass
class PartitionedSummary(ReplaySummary):
    workers: int = 1  # processes that ran (at most one per tenant)
    tenants: int = 0  # with at least one valid event
    worker_cpu_seconds: list[float] = field(default_factory=list)  # each worker's own CPU time
    parent_cpu_seconds: float = 0.0  # index (unless in workers), plan and merge: the serial part
    prepare_cpu_seconds: list[float] = field(default_factory=list)  # pass 1 shares run in workers


def classify(line: bytes, default_tenant: str) -> tuple[int, str]:
    """(BARE or ENVELOPE, tenant) of one raw line; cheap for bare events and the ingest's layout.

    A record whose `event` is an object is an envelope (as `ml.jobs` reads the archive); anything else,
    unreadable lines included, is a bare event of the default tenant (pass 2 reports what is wrong)."""
    if b'"event"' not in line:
        return BARE, default_tenant
    m = _HEAD.match(line.lstrip())
    if m is not None and line.count(b'"tenantId"') == 1:
        return ENVELOPE, m.group(1).decode()
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        return BARE, default_tenant
    if isinstance(obj, dict) and isinstance(obj.get("event"), dict):
        tenant = obj.get("tenantId")
        return ENVELOPE, str(tenant) if valid_tenant(tenant) else default_tenant
    return BARE, default_tenant


def stream_of(event_type: object, service: object = None, metric: object = None) -> str:
    if event_type == "metric" and isinstance(service, str) and isinstance(metric, str):
        return f"m{service}\x1f{metric}"
    return USAGE if event_type == USAGE_EVENT_TYPE else BUSINESS


def line_stream(line: bytes, kind: int) -> str:
    """The stream of a raw line (`stream_of` of its event), cheaply when the line has no escapes: a line
    without a backslash names its fields literally, so one occurrence of each key is the event's own."""
    if b"\\" not in line:
        if b'"metric"' not in line and b'"cloudtrail"' not in line:
            return BUSINESS
        counts = [line.count(b'"%s"' % k.encode()) for k in _FIELDS]
        if counts == [1, 1, 1] or (counts[0] == 1 and b'"metric"' not in line):
            found = {k: r.search(line) for k, r in _FIELDS.items()}
            values = {k: m.group(1).decode() if m else None for k, m in found.items()}
            return stream_of(values["eventType"], values["service"], values["metricName"])
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        return BUSINESS
    event = obj.get("event") if kind == ENVELOPE and isinstance(obj, dict) else obj
    if not isinstance(event, dict):
        return BUSINESS
    return stream_of(event.get("eventType"), event.get("service"), event.get("metricName"))


def split_tenants(pipeline: DetectionPipeline, tenants: Sequence[str]) -> set[str]:
    """The tenants whose streams (business, usage, each metric series) may run apart, results unchanged.

    With the built-in detectors and no tenant rules (detection/*.py `state_keys`): a metric event touches
    only its series (system), a usage event only usage keys (per API, per principal, the tenant's `_meta`),
    and the tenant-wide calibration is fed and read by business events alone (behavioural). Any other
    detector (the model's, a custom one) or a tenant with rules keeps the tenant whole."""
    from anomaly_guardian.detection.rules import RuleDetector

    known = {
        "velocity": "VelocityDetector",
        "value": "ValueDetector",
        "geolocation": "GeolocationDetector",
        "behavioral": "BehavioralDetector",
        "system": "SystemDetector",
        "usage": "UsageDetector",
        "rules": "RuleDetector",
    }
    if any(known.get(getattr(d, "name", "")) != type(d).__name__ for d in pipeline.detectors):
        return set()
    rules = [d for d in pipeline.detectors if isinstance(d, RuleDetector)]
    return {t for t in tenants if not any(r._checks(t)[0] for r in rules)}


def _envelope_event(line: bytes) -> Event:
    return decode_record(line).event


def _epoch(line: bytes, kind: int) -> float:
    """replay's pass-1 event time; an envelope line's event is inside it."""
    return line_epoch(line, _envelope_event if kind == ENVELOPE else parse_event)


@dataclass
class FileIndex:
    """The kept lines of a file (not blank, of the tenants asked for): 29 bytes a line."""

    offsets: array
    numbers: array  # line numbers (1-based)
    epochs: array
    kinds: array
    unit_codes: array
    units: list[tuple[str, str]]  # code -> (tenant id, stream)
    ordered: bool
    lines: int = 0  # every line of the range, kept or not
    first: float = _NEG_INF  # first readable event time
    last: float = _NEG_INF  # latest readable event time
    segments: array = field(default_factory=lambda: array("H"))  # per line: which file (merged indexes)


def index_file(
    path: Path,
    default_tenant: str,
    keep: Callable[[str], bool] | None = None,
    start: int = 0,
    end: int | None = None,
) -> FileIndex:
    """Pass 1 over the lines that start in [start, end). `keep(tenant)`: only those tenants' lines are
    indexed (a partition's memory is its share). Line numbers count from the range's first line."""
    offsets, numbers, epochs, kinds, codes = array("q"), array("q"), array("d"), array("b"), array("I")
    code_of: dict[tuple[str, str], int] = {}
    ordered, first, last, number = True, _NEG_INF, _NEG_INF, 0
    with path.open("rb") as f:
        pos = start
        if start > 0:  # the line that starts at or after `start`
            f.seek(start - 1)
            pos += len(f.readline()) - 1
        for line in f:
            if end is not None and pos >= end:
                break
            line_start = pos
            pos += len(line)
            number += 1
            if not line.strip():  # skipped, as replay skips it; no worker reads it
                continue
            kind, tenant = classify(line, default_tenant)
            if keep is not None and not keep(tenant):
                continue
            offsets.append(line_start)
            numbers.append(number)
            unit = (tenant, line_stream(line, kind))
            code = code_of.get(unit)
            if code is None:
                code = code_of[unit] = len(code_of)
            kinds.append(kind)
            codes.append(code)
            e = _epoch(line, kind)
            epochs.append(e)
            if e == _NEG_INF:
                continue
            if first == _NEG_INF:
                first = e
            if e < last:
                ordered = False
            elif e > last:
                last = e
    units = sorted(code_of, key=code_of.__getitem__) or [(default_tenant, BUSINESS)]
    return FileIndex(offsets, numbers, epochs, kinds, codes, units, ordered, number, first, last)


def merge_indexes(parts: Sequence[FileIndex]) -> FileIndex:
    """Consecutive ranges (or files) as one index: line numbers run on, units get one code table."""
    merged = FileIndex(array("q"), array("q"), array("d"), array("b"), array("I"), [], True)
    code_of: dict[tuple[str, str], int] = {}
    for seg, part in enumerate(parts):
        remap = [code_of.setdefault(u, len(code_of)) for u in part.units]
        merged.offsets.extend(part.offsets)
        merged.numbers.extend(n + merged.lines for n in part.numbers)
        merged.epochs.extend(part.epochs)
        merged.kinds.extend(part.kinds)
        merged.unit_codes.extend(remap[c] for c in part.unit_codes)
        merged.segments.extend([seg] * len(part.offsets))
        if not part.ordered or (part.first != _NEG_INF and part.first < merged.last):
            merged.ordered = False
        merged.last = max(merged.last, part.last)
        merged.lines += part.lines
    merged.units = sorted(code_of, key=code_of.__getitem__) or (parts[0].units if parts else [])
    return merged


@dataclass
class Segment:
    """One share of pass 1: a byte range of a file, or archive objects spooled into `path` first."""

    path: str
    start: int = 0
    end: int | None = None
    objects: list[str] | None = None


def prepare(
    segment: Segment, default_tenant: str, partition: tuple[int, int] | None
) -> tuple[FileIndex, Spool | None, float]:
    """Pass 1 of one segment (in a worker when there are several): spool if archive objects, then index.
    Returns the CPU seconds it took, for the summary."""
    started = time.process_time()
    keep = None
    if partition is not None:
        mine, count = partition

        def keep(t: str) -> bool:
            return tenant_partition(t, count) == mine

    spool = None
    if segment.objects is not None:
        spool = spool_archive(segment.objects, Path(segment.path), keep, default_tenant)
    index = index_file(Path(segment.path), default_tenant, keep, segment.start, segment.end)
    return index, spool, time.process_time() - started


def segments_of(paths: Sequence[Path], archive: bool, count: int, tmp: str) -> list[Segment]:
    """`count` shares of pass 1: archive objects in consecutive groups of about equal size, or a file in
    byte ranges (files under 8 MB in one)."""
    if archive:
        objects = archive_files(paths)
        sizes = [o.stat().st_size for o in objects]
        groups: list[list[str]] = [[] for _ in range(max(1, count))]
        total, acc = sum(sizes) or 1, 0
        for o, size in zip(objects, sizes, strict=True):
            groups[min(len(groups) - 1, acc * len(groups) // total)].append(str(o))
            acc += size
        return [Segment(str(Path(tmp) / f"spool-{g}.jsonl"), objects=grp) for g, grp in enumerate(groups) if grp]
    size = paths[0].stat().st_size
    count = max(1, min(count, size // MIN_SEGMENT_BYTES))
    cuts = [size * i // count for i in range(count + 1)]
    return [Segment(str(paths[0]), cuts[i], cuts[i + 1] if i + 1 < count else None) for i in range(count)]


def assign(loads: dict[int, int], workers: int) -> dict[int, int]:
    """Unit code -> worker: largest unit first onto the least-loaded worker (ties: lowest index)."""
    bins = [(0, w) for w in range(max(1, min(workers, len(loads))))]
    heapq.heapify(bins)
    out: dict[int, int] = {}
    for code, n in sorted(loads.items(), key=lambda kv: (-kv[1], kv[0])):
        load, w = heapq.heappop(bins)
        out[code] = w
        heapq.heappush(bins, (load + n, w))
    return out


@dataclass
class Task:
    index: int
    paths: list[str]  # the indexed files (segments)
    out_dir: str
    units: list[tuple[str, str | None]]  # code -> (tenant, stream; None: the whole tenant)
    ranks: array  # global position of each line (event-time order)
    line_numbers: array
    offsets: array
    kinds: array
    unit_codes: array
    segments: array
    chunk_size: int
    pipeline_factory: PipelineFactory


@dataclass
class TaskResult:
    index: int
    events: int = 0
    rejected: int = 0
    anomalies: int = 0
    by_type: Counter = field(default_factory=Counter)
    by_severity: Counter = field(default_factory=Counter)
    blocks: list[tuple[tuple[int, int], int]] = field(default_factory=list)  # (tag, anomaly lines)
    tenants: set[str] = field(default_factory=set)  # with at least one event
    cpu_seconds: float = 0.0


def anomalies_path(out_dir: str, index: int) -> Path:
    return Path(out_dir) / f"anomalies-{index}.jsonl"


def errors_path(out_dir: str, index: int) -> Path:
    return Path(out_dir) / f"errors-{index}.txt"


def assign_ids(tenant: str, received: dict[str, int], anomalies: list[Anomaly]) -> None:
    """The detector Lambda's ids (`BatchDetector._assign_ids`): the same run, the same ids, on any worker."""
    ordinal: Counter = Counter()
    for a in anomalies:
        event_id = str(a.originalEvent.get("eventId", ""))
        key = (event_id, a.detector or "", str(a.anomalyType))
        n = ordinal[key]
        ordinal[key] += 1
        a.anomalyId = deterministic_anomaly_id(tenant, event_id, received.get(event_id, 0), key[1], key[2], n)


def run_task(task: Task) -> TaskResult:
    """One worker: its tenants' lines in global order, per-tenant chunks, anomalies and errors to files."""
    started = time.process_time()
    gc_was_enabled = gc.isenabled()
    gc.disable()  # as replay: events hold no cycles, the cyclic GC only costs time
    try:
        result = _run_task(task)
    finally:
        if gc_was_enabled:
            gc.enable()
    result.cpu_seconds = time.process_time() - started
    return result


def _run_task(task: Task) -> TaskResult:
    pipeline = task.pipeline_factory()
    result = TaskResult(task.index)
    pending: dict[int, list[tuple[Event, int]]] = defaultdict(list)  # tenant code -> (event, received ms)
    last_rank: dict[int, int] = {}
    with ExitStack() as stack:  # every file opened so far is closed, also when a later one fails to open
        sources = [stack.enter_context(open(p, "rb")) for p in task.paths]
        _read_task(task, sources, pipeline, result, pending, last_rank)
    return result


def _read_task(task, sources, pipeline, result, pending, last_rank) -> None:
    with (
        anomalies_path(task.out_dir, task.index).open("w", encoding="utf-8") as out,
        errors_path(task.out_dir, task.index).open("w", encoding="utf-8") as err,
    ):

        def flush(code: int, tag: tuple[int, int]) -> None:
            chunk = pending.pop(code)
            tenant = task.units[code][0]
            anomalies = pipeline.process(tenant, [e for e, _ in chunk])
            assign_ids(tenant, {e.eventId: ms for e, ms in chunk}, anomalies)
            for a in anomalies:
                out.write(a.model_dump_json())
                out.write("\n")
                result.by_type[a.anomalyType] += 1
                result.by_severity[a.severity] += 1
            result.anomalies += len(anomalies)
            result.events += len(chunk)
            result.blocks.append((tag, len(anomalies)))
            result.tenants.add(tenant)

        for j in range(len(task.ranks)):
            src = sources[task.segments[j]]
            src.seek(task.offsets[j])
            line = src.readline()
            rank, code = task.ranks[j], task.unit_codes[j]
            tenant, stream = task.units[code]
            try:
                if task.kinds[j] == ENVELOPE:
                    env = decode_record(line)
                    if env.tenantId != tenant:
                        raise InvalidEvent("Invalid field tenantId: not the one read in pass 1 (given twice?)")
                    event, received = env.event, int(env.receivedAt.timestamp() * 1000)
                else:
                    event = parse_event(line)
                    received = int(event.timestamp.timestamp() * 1000)
                if stream is not None and stream_of(event.eventType, event.service, event.metricName) != stream:
                    # only a record with duplicate keys can read differently in pass 1 and here
                    raise InvalidEvent("eventType, service or metricName given twice: the record cannot be routed")
            except InvalidEvent as exc:
                result.rejected += 1
                message = exc.message.replace("\n", " ")
                err.write(f"{rank}\t{task.line_numbers[j]}\t{message}\n")
                continue
            chunk = pending[code]
            chunk.append((event, received))
            last_rank[code] = rank
            if len(chunk) >= task.chunk_size:
                flush(code, (0, rank))
        for code in sorted(pending, key=last_rank.__getitem__):
            flush(code, (1, last_rank[code]))
    return result


def tenant_partition(tenant: str, count: int) -> int:
    """The partition (of `count`) a tenant belongs to: stable across runs, machines and Python versions."""
    return int.from_bytes(hashlib.blake2b(tenant.encode(), digest_size=8).digest(), "big") % count


def plan(
    index: FileIndex,
    workers: int,
    paths: list[str],
    out_dir: str,
    chunk_size: int,
    factory,
    split: set[str] | frozenset[str] = frozenset(),
) -> list[Task]:
    """Units (a tenant, or one stream of a tenant in `split`) onto workers; each worker's lines in order."""
    n = len(index.offsets)
    kinds = index.kinds
    unit_of: dict[tuple[str, str | None], int] = {}
    remap = array("I")
    for tenant, stream in index.units:
        key = (tenant, stream if tenant in split else None)
        remap.append(unit_of.setdefault(key, len(unit_of)))
    units = list(unit_of)
    loads = Counter(remap[c] for c in index.unit_codes)
    worker_of = assign(dict(loads), workers)
    used = max(worker_of.values(), default=-1) + 1
    parts = [tuple(array(t) for t in ("q", "q", "q", "b", "I", "H")) for _ in range(used)]
    order = range(n) if index.ordered else sorted(range(n), key=index.epochs.__getitem__)
    offsets, codes = index.offsets, index.unit_codes
    segs = index.segments if len(index.segments) == n else array("H", bytes(2 * n))
    for rank, i in enumerate(order):
        code = remap[codes[i]]
        ranks, numbers, offs, ks, cs, ss = parts[worker_of[code]]
        ranks.append(rank)
        numbers.append(index.numbers[i])
        offs.append(offsets[i])
        ks.append(kinds[i])
        cs.append(code)
        ss.append(segs[i])
    return [
        Task(w, paths, out_dir, units, *parts[w], chunk_size=chunk_size, pipeline_factory=factory)  # type: ignore[misc,arg-type]
        for w in range(used)
    ]


def _merged_errors(out_dir: str, count: int, where: Callable[[int], str]) -> Iterator[str]:
    def rows(i: int) -> Iterator[tuple[int, int, str]]:
        with errors_path(out_dir, i).open(encoding="utf-8") as f:
            for row in f:
                rank, number, message = row.rstrip("\n").split("\t", 2)
                yield int(rank), int(number), message

    for _rank, number, message in heapq.merge(*(rows(i) for i in range(count))):
        yield f"{where(number)}: {message}"


@dataclass
class Spool:
    """Archive objects rewritten as one record per line; `where(line)` names a line's object and record."""

    path: Path
    files: list[str] = field(default_factory=list)
    file_of: array = field(default_factory=lambda: array("I"))
    record_of: array = field(default_factory=lambda: array("I"))

    def where(self, line: int) -> str:
        return f"{self.files[self.file_of[line - 1]]}: record {self.record_of[line - 1]}"


def archive_files(paths: Sequence[str | Path]) -> list[Path]:
    """The files named, and every file below a directory named (sorted: the archive's key order)."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        out += sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    return out


def _record_tenant(obj: object, default_tenant: str) -> str:
    """`classify`'s tenant of a decoded record."""
    if isinstance(obj, dict) and isinstance(obj.get("event"), dict):
        tenant = obj.get("tenantId")
        return str(tenant) if valid_tenant(tenant) else default_tenant
    return default_tenant


def spool_archive(
    paths: Sequence[str | Path],
    dest: Path,
    keep: Callable[[str], bool] | None = None,
    default_tenant: str = "local",
) -> Spool:
    """Firehose's objects as delivered (gzip or not, records concatenated without a delimiter or one per
    line) -> one record per line. A fragment that is not JSON becomes one line of its own, so the replay
    reports it (`OBJECT: record n: Malformed JSON ...`) and the rest of that line is skipped.
    `keep(tenant)`: only those tenants' records are written (a partition's disk is its share)."""
    decoder = json.JSONDecoder()
    spool = Spool(dest)
    with dest.open("w", encoding="utf-8") as out:
        for fi, path in enumerate(archive_files(paths)):
            spool.files.append(str(path))
            data = path.read_bytes()
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            record = 0
            for physical in data.decode("utf-8", errors="replace").splitlines():
                text, pos = physical.strip(), 0
                while pos < len(text):
                    record += 1
                    try:
                        obj, end = decoder.raw_decode(text, pos)
                    except ValueError:
                        obj, end = None, len(text)  # the rest of the line: reported as one bad record
                    if keep is None or keep(_record_tenant(obj, default_tenant)):
                        out.write(text[pos:end].replace("\n", " "))
                        out.write("\n")
                        spool.file_of.append(fi)
                        spool.record_of.append(record)
                    pos = end
                    while pos < len(text) and text[pos] in " \t\r":
                        pos += 1
    return spool


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(total: int):
    from tqdm import tqdm  # the CLI's; the SageMaker job image has no tqdm and runs without a bar

    return tqdm(total=total, unit="ev", file=sys.stderr, mininterval=0.5)


def _is_archive(paths: Sequence[Path]) -> bool:
    if len(paths) != 1 or paths[0].is_dir():
        return True
    with paths[0].open("rb") as f:
        return f.read(2) == b"\x1f\x8b"


def replay_partitioned(
    input_path: str | Path | Sequence[str | Path],
    output: IO[str],
    tenant: str = "local",
    chunk_size: int = DEFAULT_CHUNK,
    workers: int = 1,
    pipeline_factory: PipelineFactory = default_pipeline,
    progress: bool = True,
    errors: IO[str] | object | None = "stderr",
    partition: tuple[int, int] | None = None,
) -> PartitionedSummary:
    """Replay over `workers` processes (1: in this process); the result does not depend on N.

    The input is one JSON-lines file, or archive objects (several files, directories of them, gzip):
    those are spooled to one record per line first and bad records named by object and record number.
    `partition=(i, k)`: only the tenants of partition i of k (`tenant_partition`), so k machines can
    each take a share of one archive; the k outputs together are the one-machine output."""
    if errors == "stderr":
        errors = sys.stderr
    paths = [Path(input_path)] if isinstance(input_path, str | Path) else [Path(p) for p in input_path]
    started = (time.perf_counter(), time.process_time())
    with tempfile.TemporaryDirectory(prefix="guardian-replay-") as tmp, ExitStack() as stack:
        pool = None
        if workers > 1:
            context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
            pool = stack.enter_context(ProcessPoolExecutor(max_workers=workers, mp_context=context))
        # Pass 1 in shares (byte ranges of the file, or groups of archive objects), in the workers.
        archive = _is_archive(paths)
        segments = segments_of(paths, archive, workers, tmp)
        child_cpu = 0.0
        summary_prepare: list[float] = []
        if pool is None or len(segments) == 1:
            prepared = [prepare(seg, tenant, partition) for seg in segments]
        else:
            prepared = list(pool.map(prepare, segments, [tenant] * len(segments), [partition] * len(segments)))
            summary_prepare = [cpu for _, _, cpu in prepared]
            child_cpu += sum(summary_prepare)
        index = merge_indexes([ix for ix, _, _ in prepared])
        where: Callable[[int], str] = "line {}".format
        if archive:
            spool = Spool(Path(tmp))
            for _, part, _ in prepared:
                if part is not None:
                    spool.file_of.extend(f + len(spool.files) for f in part.file_of)
                    spool.files += part.files
                    spool.record_of.extend(part.record_of)
            where = spool.where
        split = split_tenants(pipeline_factory(), sorted({t for t, _ in index.units}))
        tasks = plan(index, workers, [seg.path for seg in segments], tmp, chunk_size, pipeline_factory, split)
        lines = index.lines if partition is None else len(index.offsets)
        summary = PartitionedSummary(lines=lines, sorted_input=index.ordered, workers=len(tasks))
        summary.prepare_cpu_seconds = summary_prepare
        del index, prepared
        results: list[TaskResult] = []
        if pool is None or len(tasks) <= 1:
            bar = _progress_bar(summary.lines) if progress else _NoBar()
            for task in tasks:
                results.append(run_task(task))
                bar.update(len(task.ranks))
        else:
            futures = {pool.submit(run_task, t): t for t in tasks}
            # The bar after the workers are forked: its monitor thread must not be copied into them.
            bar = _progress_bar(summary.lines) if progress else _NoBar()
            for done in as_completed(futures):
                results.append(done.result())
                bar.update(len(futures[done].ranks))
            child_cpu += sum(r.cpu_seconds for r in results)
        bar.close()
        results.sort(key=lambda r: r.index)
        _merge(tmp, results, output)
        for r in results:
            summary.events += r.events
            summary.rejected += r.rejected
            summary.anomalies += r.anomalies
            summary.by_type.update(r.by_type)
            summary.by_severity.update(r.by_severity)
        summary.tenants = len(set().union(*(r.tenants for r in results)))
        for message in _merged_errors(tmp, len(results), where):
            if len(summary.errors) < MAX_REPORTED_ERRORS:
                summary.errors.append(message)
            if errors is not None:
                errors.write(f"guardian replay: {message}\n")  # type: ignore[attr-defined]
    summary.seconds = time.perf_counter() - started[0]
    summary.cpu_seconds = time.process_time() - started[1] + child_cpu
    summary.worker_cpu_seconds = [r.cpu_seconds for r in results]
    summary.parent_cpu_seconds = time.process_time() - started[1]
    if pool is None:  # in process: the workers' share is part of this process's time
        summary.parent_cpu_seconds -= sum(summary.worker_cpu_seconds)
    return summary


def _merge(out_dir: str, results: list[TaskResult], output: IO[str]) -> None:
    """Copy the workers' anomaly blocks into `output` in tag order (the single-worker order)."""
    with ExitStack() as stack:
        files = [stack.enter_context(anomalies_path(out_dir, r.index).open(encoding="utf-8")) for r in results]
        blocks = heapq.merge(*([(tag, k, count) for tag, count in r.blocks] for k, r in enumerate(results)))
        for _tag, k, count in blocks:
            f = files[k]
            for _ in range(count):
                output.write(f.readline())


__all__ = [
    "PartitionedSummary",
    "Spool",
    "assign",
    "classify",
    "index_file",
    "replay_partitioned",
    "spool_archive",
    "tenant_partition",
]
