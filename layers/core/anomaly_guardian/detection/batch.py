"""One Kinesis batch through the detector: decode -> dedupe -> pipeline once per tenant -> store -> respond.

This is the detector Lambda minus AWS (the sinks are ports). Order and why:

1. Decode every record first (`ingest.envelope.decode_record`, one pydantic pass on the raw bytes).
   Records that are not base64, not JSON or break the contract are *poison*: kept in the DLQ with
   their payload and reason, and reported as batch item failures.
2. Dedupe on `{tenant}#{eventId}` (one batched read). A marker is DONE (skip the event) or PENDING
   (its state update is committed; it carries the event's anomalies, which still have to be stored and
   handed to the response hooks). So a redelivered event never updates state twice and never stores
   duplicate anomalies. Duplicates inside one batch are processed once.
3. Group by tenant and run `DetectionPipeline.process(tenant, events)` once per tenant. The pipeline's
   state writes are held back (`_BatchStore`) and committed after it returns, conditional on version.
   On `StateConflict` (two shards racing on one IP's state) the tenant's events are re-run with the
   conflicting keys re-read and every other key rebuilt from its pre-batch snapshot, bounded retries.
4. Anomalies get deterministic ids (ULID time = the envelope's `receivedAt`, randomness = hash of
   tenant, eventId, detector, type and ordinal). Right after the state commit every event is marked:
   DONE when it produced nothing, PENDING with its anomalies otherwise. Then `put_many`, then the
   `on_anomalies` callbacks (response hooks; must be idempotent on anomalyId, e.g. a queue consumer or
   Step Functions StartExecution with name=anomalyId), then the PENDING markers become DONE.
5. Failures stay where they belong. A poison record kept in the DLQ is handled (not reported as a batch
   item failure, so it never drags its neighbours through retries into the on-failure destination); only
   one that could not be kept yet is reported. An exception of the pipeline itself that is not transient
   (a bug or an event it cannot handle) re-runs the tenant's events one by one: the ones that still fail
   alone go to the DLQ with the error as their reason, the others are processed. An anomaly the store
   can never accept (`AnomaliesRejected`) is kept in the DLQ with its reason; the rest are stored.
   Transient failures (throttling, timeouts, lost races) fail every record of that tenant's group
   (reported, so Kinesis retries them); records of other tenants are unaffected. On redelivery DONE events are skipped,
   PENDING ones resume at "store + respond" from their marker (no second state update), and events
   with no marker are re-run (their state was not committed, or the crash fell in the one window
   between the state commit and the marker write).
6. Per-tenant settings: the tenants' `DetectionConfig`s (built-in rule thresholds and switches) are
   refreshed in one batched read per batch when their 30 s cache entries are stale.
7. Analyst suppressions (`detection.suppression`): when a tenant's run produced anomalies (rare), the
   (type, entity) patterns of the suppressible ones are looked up in one batched read; suppressed
   anomalies are counted (`AnomaliesSuppressed`) but not stored, marked or handed to the response.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from anomaly_guardian.detection.suppression import SuppressionPolicy, candidates, split
from anomaly_guardian.ids import encode_ulid
from anomaly_guardian.ingest.envelope import decode_record
from anomaly_guardian.models.anomaly import AnomaliesRejected, Anomaly
from anomaly_guardian.models.event import Event, InvalidEvent
from anomaly_guardian.state.store import StateConflict, StateItem, StateStore
from anomaly_guardian.transient import is_transient

MAX_CONFLICT_RETRIES = 3
# Response hooks: (tenant, new anomalies, the tenant's events of this batch) after the anomalies are stored.
AnomalyCallback = Callable[[str, list[Anomaly], list[Event]], None]


class AnomalySink(Protocol):
    def put_many(self, anomalies: Sequence[Anomaly]) -> int: ...


class EventDedupe(Protocol):
    def seen(self, ids: Iterable[str]) -> dict[str, str | None]:
        """Markers found: id -> None when DONE, or the PENDING anomalies as a JSON list."""

    def mark(self, done: Iterable[str], pending: Mapping[str, str] | None = None) -> None:
        """Write DONE markers for `done` and PENDING markers (id -> anomalies JSON) for `pending`."""


class Suppressions(Protocol):
    def active(self, tenant: str, patterns: set[tuple[str, str]]) -> set[tuple[str, str]]:
        """The patterns among `patterns` with a live suppression (one batched read)."""


class PoisonSink(Protocol):
    def send(self, messages: Sequence[tuple[str, str]]) -> set[str]:
        """Keep (id, message) pairs; returns the ids kept."""


class HourlyCounters(Protocol):
    """adapters.counters.TenantCounters: events, new anomalies and errors per tenant and hour (reports)."""

    def add(self, tenant: str, at: datetime, events: int, anomalies: int, errors: int = 0) -> None: ...


class InMemoryDedupe:
    def __init__(self) -> None:
        self.markers: dict[str, str | None] = {}

    @property
    def done(self) -> set[str]:
        return {k for k, v in self.markers.items() if v is None}

    def seen(self, ids: Iterable[str]) -> dict[str, str | None]:
        return {i: self.markers[i] for i in ids if i in self.markers}

    def mark(self, done: Iterable[str], pending: Mapping[str, str] | None = None) -> None:
        self.markers.update(dict.fromkeys(done))
        self.markers.update(pending or {})


class InMemoryAnomalySink:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Anomaly] = {}

    def put_many(self, anomalies: Sequence[Anomaly]) -> int:
        for a in anomalies:
            self.items[(a.tenantId, a.anomalyId)] = a
        return len(anomalies)


class ListPoisonSink:
    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []

    def send(self, messages: Sequence[tuple[str, str]]) -> set[str]:
        self.messages.extend(messages)
        return {i for i, _ in messages}


@dataclass(slots=True)
class Decoded:
    seq: str
    tenant: str
    received_at: datetime
    event: Event


@dataclass(slots=True)
class Poison:
    seq: str
    record: dict[str, Any]
    reason: str
    field: str | None = None


@dataclass
class BatchResult:
    failed: set[str] = field(default_factory=set)  # sequence numbers to report as item failures
    poison: list[Poison] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)
    processed: int = 0  # events run through the pipeline
    skipped: int = 0  # already completed (replay) or duplicated within the batch
    resumed: int = 0  # state already committed by an earlier delivery: only stored + responded
    failed_tenants: dict[str, str] = field(default_factory=dict)  # tenant -> error type
    poison_kept: int = 0  # poison records newly kept in the DLQ by this invocation (counted once)
    isolated: int = 0  # events the pipeline could not process even alone: in the DLQ with the error
    rejected_anomalies: int = 0  # anomalies the store can never accept: in the DLQ with the reason
    conflict_retries: int = 0
    suppressed: int = 0  # anomalies silenced by an analyst's false_positive verdict (not stored)
    latency_ms: float | None = None  # oldest receivedAt in the batch -> detection


class StateConflictsExhausted(RuntimeError):
    pass


class PipelineFailed(Exception):
    """The pipeline raised something that is not transient: retrying the same events will not help."""


class _BatchStore:
    """What the pipeline sees: reads go through (or come from a rebuilt snapshot on a re-run),
    writes are held until `commit`, so a lost version race can be re-run without double-applying."""

    def __init__(self, backing: StateStore) -> None:
        self.backing = backing
        self.overrides: dict[str, StateItem] = {}
        self.pending: dict[str, StateItem] = {}

    def load(self, keys: Iterable[str]) -> dict[str, StateItem]:
        keys = list(keys)
        need = [k for k in keys if k not in self.overrides]
        out = self.backing.load(need) if need else {}
        for k in keys:
            if k in self.overrides:
                out[k] = self.overrides[k]
        return out

    def save(self, items: Mapping[str, StateItem]) -> None:
        self.pending = dict(items)

    def delete_prefix(self, prefix: str) -> int:
        return self.backing.delete_prefix(prefix)

    def commit(self) -> None:
        items, self.pending = self.pending, {}
        if items:
            self.backing.save(items)

    def prepare_retry(self, conflict: StateConflict, keys: Iterable[str]) -> None:
        """Re-read the losing keys; rebuild every other key from before this batch (no read)."""
        snapshot = getattr(self.backing, "snapshot", None)
        lost = set(conflict.keys)
        saved = set(getattr(conflict, "saved", ()))
        if snapshot is None:  # a store without snapshots: re-read everything on the re-run
            self.overrides = {}
            return
        others = [k for k in keys if k not in lost]
        self.overrides = snapshot(others)
        for k in saved & set(others):
            self.overrides[k].version += 1  # committed by the lost attempt: overwrite it, same events

    def reset(self) -> None:
        self.overrides, self.pending = {}, {}


MAX_DLQ_DATA_CHARS = 200_000  # SQS messages are capped at 256 KiB


def dlq_message(record: Mapping[str, Any], reason: str, field: str | None, detected_at: str) -> str:
    """The DLQ message for one poison record: its data as it was on the stream (base64), the reason,
    and where it came from. Oversized data is kept truncated, flagged, with the full data's SHA-256."""
    kin = record.get("kinesis") or {}
    data = str(kin.get("data") or "")
    body: dict[str, Any] = {
        "reason": reason,
        "field": field,
        "detectedAt": detected_at,
        "eventSourceARN": record.get("eventSourceARN"),
        "eventID": record.get("eventID"),
        "partitionKey": kin.get("partitionKey"),
        "sequenceNumber": kin.get("sequenceNumber"),
        "approximateArrivalTimestamp": kin.get("approximateArrivalTimestamp"),
        "data": data,
    }
    if len(data) > MAX_DLQ_DATA_CHARS:
        body |= {
            "data": data[:MAX_DLQ_DATA_CHARS],
            "dataTruncated": True,
            "dataSha256": hashlib.sha256(data.encode()).hexdigest(),
            "dataLength": len(data),
        }
    return json.dumps(body, separators=(",", ":"))


def deterministic_anomaly_id(tenant: str, event_id: str, received_ms: int, detector: str, kind: str, n: int) -> str:
    digest = hashlib.blake2b(f"{tenant}\x1f{event_id}\x1f{detector}\x1f{kind}\x1f{n}".encode(), digest_size=10)
    return encode_ulid(received_ms, int.from_bytes(digest.digest(), "big"))


def decode(records: Sequence[Mapping[str, Any]]) -> tuple[list[Decoded], list[Poison]]:
    good, bad = [], []
    for rec in records:
        kin = rec.get("kinesis") or {}
        seq = str(kin.get("sequenceNumber", ""))
        try:
            data = base64.b64decode(kin.get("data") or "", validate=True)
        except (binascii.Error, ValueError, TypeError):
            bad.append(Poison(seq, dict(rec), "Record data is not valid base64"))
            continue
        try:
            env = decode_record(data)
        except InvalidEvent as exc:
            bad.append(Poison(seq, dict(rec), exc.message, exc.field))
            continue
        good.append(Decoded(seq, env.tenantId, env.receivedAt, env.event))
    return good, bad


class BatchDetector:
    def __init__(
        self,
        pipeline_factory: Callable[[StateStore], Any],
        store: StateStore,
        anomalies: AnomalySink,
        dedupe: EventDedupe,
        poison: PoisonSink,
        *,
        on_anomalies: Iterable[AnomalyCallback] = (),
        max_conflict_retries: int = MAX_CONFLICT_RETRIES,
        logger: Any = None,
        clock: Callable[[], float] = time.time,
        suppressions: Suppressions | None = None,
        suppression_policy: SuppressionPolicy | None = None,
        counters: HourlyCounters | None = None,
    ) -> None:
        self.store = store
        self.counters = counters
        self.suppressions = suppressions
        self.suppression_policy = suppression_policy
        self.buffer = _BatchStore(store)
        self.pipeline = pipeline_factory(self.buffer)
        self.anomalies = anomalies
        self.dedupe = dedupe
        self.poison = poison
        self.on_anomalies: list[AnomalyCallback] = list(on_anomalies)
        self.max_conflict_retries = max_conflict_retries
        self.logger = logger
        self.clock = clock

    def process(self, records: Sequence[Mapping[str, Any]]) -> BatchResult:
        result = BatchResult()
        forget = getattr(self.store, "forget", None)
        if forget:
            forget()
        good, bad = decode(records)
        result.poison = bad
        record_of = {str((r.get("kinesis") or {}).get("sequenceNumber", "")): r for r in records}

        done = self.dedupe.seen([f"{d.tenant}#{d.event.eventId}" for d in good] + [self._poison_id(p) for p in bad])
        self._keep_poison(bad, done, result)

        groups: dict[str, list[Decoded]] = defaultdict(list)
        resumed: dict[str, list[tuple[Decoded, str]]] = defaultdict(list)  # PENDING: (event, anomalies JSON)
        seqs_of: dict[tuple[str, str], list[str]] = defaultdict(list)  # (tenant, eventId) -> seqs
        for d in good:
            ident = (d.tenant, d.event.eventId)
            seqs_of[ident].append(d.seq)
            marker_id = f"{d.tenant}#{d.event.eventId}"
            if len(seqs_of[ident]) > 1 or (marker_id in done and done[marker_id] is None):
                result.skipped += 1
            elif marker_id in done:
                resumed[d.tenant].append((d, str(done[marker_id])))
            else:
                groups[d.tenant].append(d)

        prefetch = getattr(getattr(self.pipeline, "config_for", None), "prefetch", None)
        if prefetch is not None and groups:  # every tenant's detection settings in one batched read
            prefetch(list(groups))
        for tenant in list(dict.fromkeys([*groups, *resumed])):
            items, pending = groups.get(tenant, []), resumed.get(tenant, [])
            isolated = 0
            try:
                try:
                    anomalies = self._run_tenant(tenant, items, pending, result)
                except PipelineFailed:
                    anomalies, isolated = self._isolate(tenant, items, pending, result, record_of)
            except Exception as exc:  # transient: the whole tenant group is retried by Kinesis
                result.failed_tenants[tenant] = type(exc).__name__
                for d in [*items, *(p for p, _ in pending)]:
                    result.failed.update(seqs_of[(tenant, d.event.eventId)])
                if self.logger:
                    self.logger.exception(
                        "tenant group failed; its records are reported for retry",
                        extra={"tenant": tenant, "events": len(items), "error": type(exc).__name__},
                    )
                continue
            result.processed += len(items) - isolated
            result.resumed += len(pending)
            result.anomalies.extend(anomalies)
            self._count(tenant, len(items) - isolated, anomalies, pending, isolated)
        processed = [d for items in groups.values() for d in items]
        if processed:
            oldest = min(d.received_at.timestamp() for d in processed)
            result.latency_ms = max(0.0, (self.clock() - oldest) * 1000)
        return result

    def _count(
        self, tenant: str, events: int, anomalies: list[Anomaly], pending: list[tuple[Decoded, str]], errors: int
    ) -> None:
        """Per-tenant hourly counters (fail open: a counter never fails the batch; resumed anomalies were
        counted by the delivery that detected them, unless it died before counting)."""
        if self.counters is None:
            return
        resumed = sum(len(json.loads(doc)) for _, doc in pending)
        fresh = max(0, len(anomalies) - resumed)
        if not (events or fresh or errors):
            return
        try:
            self.counters.add(tenant, datetime.fromtimestamp(self.clock(), UTC), events, fresh, errors)
        except Exception:  # counting is best effort: detection and response already happened
            if self.logger:
                self.logger.warning("tenant counters not updated", extra={"tenant": tenant})

    def _isolate(
        self,
        tenant: str,
        items: list[Decoded],
        pending: list[tuple[Decoded, str]],
        result: BatchResult,
        record_of: Mapping[str, Mapping[str, Any]],
    ) -> tuple[list[Anomaly], int]:
        """The pipeline raised a non-transient error on the tenant's group: run each event alone, so only
        the event(s) it cannot handle are set aside (DLQ, with the error as the reason)."""
        if self.logger:
            self.logger.warning("pipeline failed on a tenant group; isolating", extra={"tenant": tenant})
        anomalies = self._run_tenant(tenant, [], pending, result) if pending else []
        isolated = 0
        for d in items:
            try:
                anomalies += self._run_tenant(tenant, [d], [], result)
            except PipelineFailed as exc:
                isolated += 1
                cause = exc.__cause__ or exc
                reason = f"The detector could not process this event: {type(cause).__name__}: {str(cause)[:300]}"
                poison = Poison(d.seq, dict(record_of.get(d.seq) or {}), reason)
                kept = self._send_poison([poison])
                if kept:
                    self.dedupe.mark([f"{tenant}#{d.event.eventId}"])
                    result.isolated += 1
                else:
                    result.failed.add(d.seq)
                if self.logger:
                    self.logger.error(
                        "event set aside: the pipeline cannot process it",
                        extra={"tenant": tenant, "sequenceNumber": d.seq, "error": type(cause).__name__},
                    )
        return anomalies, isolated

    def _store(self, tenant: str, anomalies: list[Anomaly], result: BatchResult) -> list[Anomaly]:
        """put_many; anomalies the store can never accept are kept in the DLQ with the reason (and not
        handed to the response), so one bad item never takes the batch's other anomalies with it."""
        try:
            self.anomalies.put_many(anomalies)
            return anomalies
        except AnomaliesRejected as exc:
            reasons = dict(exc.rejected)
        at = datetime.fromtimestamp(self.clock(), UTC).isoformat().replace("+00:00", "Z")
        bad = [a for a in anomalies if a.anomalyId in reasons]
        messages = [
            (
                f"_anomaly#{tenant}#{a.anomalyId}",
                json.dumps(
                    {
                        "reason": f"The anomaly store refused this anomaly: {reasons[a.anomalyId]}",
                        "kind": "anomaly",
                        "tenantId": tenant,
                        "detectedAt": at,
                        "anomaly": a.model_dump(mode="json"),
                    },
                    separators=(",", ":"),
                    default=str,
                )[: MAX_DLQ_DATA_CHARS + 20_000],
            )
            for a in bad
        ]
        kept = self.poison.send(messages)
        if len(kept) < len(messages):
            raise RuntimeError("anomalies refused by the store could not be kept in the DLQ")  # retried
        result.rejected_anomalies += len(bad)
        if self.logger:
            self.logger.error("anomalies refused by the store kept in the DLQ", extra={"count": len(bad)})
        return [a for a in anomalies if a.anomalyId not in reasons]

    def _run_tenant(
        self, tenant: str, items: list[Decoded], pending: list[tuple[Decoded, str]], result: BatchResult
    ) -> list[Anomaly]:
        anomalies, open_markers = self._detect(tenant, items, result) if items else ([], [])
        anomalies += [Anomaly.model_validate(a) for _, doc in pending for a in json.loads(doc)]
        open_markers += [f"{tenant}#{d.event.eventId}" for d, _ in pending]
        events = [d.event for d in items] + [d.event for d, _ in pending]
        if anomalies:
            anomalies = self._store(tenant, anomalies, result)
        if anomalies:
            for callback in self.on_anomalies:
                callback(tenant, anomalies, events)
        if open_markers:
            self.dedupe.mark(open_markers)
        return anomalies

    def _detect(self, tenant: str, items: list[Decoded], result: BatchResult) -> tuple[list[Anomaly], list[str]]:
        """Pipeline + state commit (with conflict re-runs), then the markers that make it happen once.
        Returns the anomalies and the ids of the PENDING markers written."""
        events = [d.event for d in items]
        self.buffer.reset()
        for attempt in range(self.max_conflict_retries + 1):
            try:
                anomalies = self.pipeline.process(tenant, events)
            except Exception as exc:
                self.buffer.reset()
                if is_transient(exc):
                    raise
                raise PipelineFailed(type(exc).__name__) from exc
            touched = list(self.buffer.pending)
            try:
                self.buffer.commit()
                break
            except StateConflict as conflict:
                if attempt == self.max_conflict_retries:
                    raise StateConflictsExhausted(
                        f"state conflicts persisted after {attempt + 1} attempts on {len(conflict.keys)} key(s)"
                    ) from conflict
                result.conflict_retries += 1
                if self.logger:
                    self.logger.info(
                        "state conflict; re-running tenant group",
                        extra={"tenant": tenant, "keys": len(conflict.keys), "attempt": attempt + 1},
                    )
                self.buffer.prepare_retry(conflict, touched)
        self.buffer.reset()

        self._assign_ids(tenant, items, anomalies)
        if anomalies and self.suppressions is not None:
            anomalies, dropped = self._suppress(tenant, anomalies)
            result.suppressed += len(dropped)
        by_event: dict[str, list[dict[str, Any]]] = defaultdict(list)
        known = {d.event.eventId for d in items}
        for a in anomalies:
            event_id = str(a.originalEvent.get("eventId", ""))
            by_event[event_id if event_id in known else items[-1].event.eventId].append(a.model_dump(mode="json"))
        pending = {f"{tenant}#{eid}": json.dumps(docs, separators=(",", ":")) for eid, docs in by_event.items()}
        self.dedupe.mark([f"{tenant}#{d.event.eventId}" for d in items if d.event.eventId not in by_event], pending)
        return anomalies, list(pending)

    def _suppress(self, tenant: str, anomalies: list[Anomaly]) -> tuple[list[Anomaly], list[Anomaly]]:
        policy = self.suppression_policy or SuppressionPolicy()
        config_for = getattr(self.pipeline, "config_for", None)
        if config_for is not None:  # the tenant's own absolute limit
            policy = SuppressionPolicy(policy.max_score, config_for(tenant).value.absolute_limit)
        wanted = candidates(anomalies, policy)
        if not wanted:
            return anomalies, []
        kept, dropped = split(anomalies, self.suppressions.active(tenant, wanted), policy)
        if dropped and self.logger:
            self.logger.info(
                "anomalies suppressed by analyst feedback", extra={"tenant": tenant, "count": len(dropped)}
            )
        return kept, dropped

    @staticmethod
    def _assign_ids(tenant: str, items: list[Decoded], anomalies: list[Anomaly]) -> None:
        received = {d.event.eventId: int(d.received_at.timestamp() * 1000) for d in items}
        ordinal: dict[tuple[str, str, str], int] = defaultdict(int)
        for a in anomalies:
            event_id = str(a.originalEvent.get("eventId", ""))
            if event_id not in received:
                continue
            key = (event_id, a.detector or "", str(a.anomalyType))
            n = ordinal[key]
            ordinal[key] += 1
            a.anomalyId = deterministic_anomaly_id(tenant, event_id, received[event_id], key[1], key[2], n)

    @staticmethod
    def _poison_id(p: Poison) -> str:
        return f"_poison#{p.record.get('eventID') or p.seq}"

    def _send_poison(self, fresh: list[Poison]) -> set[str]:
        """Send poison records to the DLQ; returns the sequence numbers kept (and marks them kept)."""
        at = datetime.fromtimestamp(self.clock(), UTC).isoformat().replace("+00:00", "Z")
        messages = [(self._poison_id(p), dlq_message(p.record, p.reason, p.field, at)) for p in fresh]
        try:
            kept = self.poison.send(messages)
        except Exception as exc:  # reported as failures: Kinesis redelivers them and we try again
            kept = set()
            if self.logger:
                self.logger.error("could not keep poison records in the DLQ", extra={"error": type(exc).__name__})
        if kept:
            self.dedupe.mark(kept)
        return {p.seq for p in fresh if self._poison_id(p) in kept}

    def _keep_poison(self, bad: list[Poison], done: Mapping[str, str | None], result: BatchResult) -> None:
        """Poison records are kept in the DLQ with their reason, once (a marker stops redeliveries from
        duplicating them). A kept record is handled: it is not reported as a batch item failure, so it
        never holds back the shard or sends its neighbours to the on-failure destination. Only records
        not kept yet (the DLQ failed) are reported, so Kinesis redelivers them and we try again."""
        fresh = [p for p in bad if self._poison_id(p) not in done]
        if not fresh:
            return
        kept = self._send_poison(fresh)
        result.poison_kept += len(kept)
        result.failed.update(p.seq for p in fresh if p.seq not in kept)
        if len(kept) < len(fresh) and self.logger:
            self.logger.error("poison records not kept in the DLQ yet", extra={"count": len(fresh) - len(kept)})
        if self.logger:
            for p in fresh:
                self.logger.warning("poison record", extra={"sequenceNumber": p.seq, "reason": p.reason})


def emit_metrics(metrics: Any, result: BatchResult) -> None:
    """EMF: EventsProcessed, RecordsRejected, ProcessingLatency, AnomalyScore, and AnomalyDetected per
    (anomalyType, severity) as its own dimension set."""
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    metrics.add_metric(name="EventsProcessed", unit=MetricUnit.Count, value=result.processed)
    # Counted once: a poison record redelivered after it was kept is not counted again.
    metrics.add_metric(name="RecordsRejected", unit=MetricUnit.Count, value=result.poison_kept + result.isolated)
    if result.rejected_anomalies:
        metrics.add_metric(name="AnomaliesRejected", unit=MetricUnit.Count, value=result.rejected_anomalies)
    if result.suppressed:
        metrics.add_metric(name="AnomaliesSuppressed", unit=MetricUnit.Count, value=result.suppressed)
    if result.latency_ms is not None:
        metrics.add_metric(name="ProcessingLatency", unit=MetricUnit.Milliseconds, value=result.latency_ms)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for a in result.anomalies:
        metrics.add_metric(name="AnomalyScore", unit=MetricUnit.NoUnit, value=a.anomalyScore)
        counts[(str(a.anomalyType), str(a.severity))] += 1
    for (kind, severity), n in sorted(counts.items()):
        with single_metric(
            name="AnomalyDetected",
            unit=MetricUnit.Count,
            value=n,
            namespace=getattr(metrics, "namespace", None),
            default_dimensions=getattr(metrics, "default_dimensions", None),
        ) as metric:
            metric.add_dimension(name="anomalyType", value=kind)
            metric.add_dimension(name="severity", value=severity)


class RecordNotProcessed(Exception):
    """Raised inside the Powertools record handler for a record this batch reports as failed."""


def handle_kinesis_event(
    event: Mapping[str, Any], context: Any, detector: BatchDetector, processor: Any, metrics: Any
) -> dict[str, Any]:
    """Run the batch logic on the whole event, then let Powertools' BatchProcessor build the
    partial-batch response from the per-record outcomes (record handler = outcome lookup)."""
    from aws_lambda_powertools.utilities.batch import process_partial_response

    result = detector.process(event.get("Records") or [])
    try:
        emit_metrics(metrics, result)
    except Exception:  # metrics must never turn a processed batch into a retried one
        if detector.logger:
            detector.logger.exception("emitting metrics failed")
    failed = result.failed

    def record_handler(record: Any) -> None:
        if record.kinesis.sequence_number in failed:
            raise RecordNotProcessed(record.kinesis.sequence_number)

    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)


__all__ = [
    "BatchDetector",
    "BatchResult",
    "InMemoryAnomalySink",
    "InMemoryDedupe",
    "ListPoisonSink",
    "decode",
    "deterministic_anomaly_id",
    "dlq_message",
    "emit_metrics",
    "handle_kinesis_event",
]
