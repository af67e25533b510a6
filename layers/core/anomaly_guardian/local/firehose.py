"""The event archive as deployed: the Kinesis stream -> Firehose -> S3, emulated on the local stack.

Terraform owns the delivery stream (`aws_kinesis_firehose_delivery_stream` with a
`kinesis_source_configuration`, terraform/modules/platform/ml.tf); `firehose_specs()` reads every
such declaration from terraform/ (prefix, error prefix, buffering hints, compression) so the local
archive writes what the deployed one writes:

- objects under the declared prefix with Firehose's expressions evaluated (`!{timestamp:yyyy-MM-dd}`
  at the arrival time of the oldest buffered record, UTC; `!{firehose:random-string}`),
- named `<delivery stream>-1-YYYY-MM-DD-HH-MM-SS-<uuid>` plus `.gz` with GZIP compression,
- holding the records' data concatenated as Firehose does (no delimiter added), KMS-encrypted
  with the declared key (the local application key).

The destination bucket is the template's archive bucket parameter (the SSM contract path ending
in `<name>-bucket` for `module.storage.bucket_arns["<name>"]`). Buffers flush when the declared
size is reached, after `buffer_seconds` (locally 2 s by default instead of the declared 300 s, so
the archive is visible while you watch), on `POST /_local/archive/flush` and when the stack stops.
The delivery stream also exists in moto's Firehose (DescribeDeliveryStream works locally).
"""

from __future__ import annotations

import gzip
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_JAVA_TIME = [("yyyy", "%Y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"), ("mm", "%M"), ("ss", "%S")]


@dataclass
class FirehoseSpec:
    resource: str  # terraform resource name
    name_suffix: str  # the delivery stream name after the environment prefix, e.g. "archive"
    bucket_key: str  # e.g. "archive" from module.storage.bucket_arns["archive"]
    prefix: str = ""
    error_prefix: str = ""
    buffer_mb: int = 5
    buffer_seconds: int = 300
    compression: str = "UNCOMPRESSED"


def _one(value: Any) -> Any:
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def _unquoted(value: Any) -> Any:
    """python-hcl2 keeps string literals quoted ('"x"') in keys and values."""
    if isinstance(value, dict):
        return {_unquoted(k): _unquoted(v) for k, v in value.items() if k not in ("__is_block__", "__comments__")}
    if isinstance(value, list):
        return [_unquoted(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def firehose_specs(root: Path) -> list[FirehoseSpec]:
    """Kinesis-sourced S3 delivery streams declared in terraform/ (empty if none or hcl2 is missing)."""
    try:
        import hcl2
    except ImportError:  # pragma: no cover - dev requirement
        return []
    out: list[FirehoseSpec] = []
    for path in sorted((root / "terraform").rglob("*.tf")):
        if ".terraform" in path.parts or "aws_kinesis_firehose_delivery_stream" not in path.read_text(encoding="utf-8"):
            continue
        try:
            doc = _unquoted(hcl2.loads(path.read_text(encoding="utf-8")))
        except Exception:  # a file hcl2 cannot parse is the Terraform checks' business, not ours
            log.debug("cannot parse %s", path, exc_info=True)
            continue
        for block in doc.get("resource") or []:
            for name, body in (block.get("aws_kinesis_firehose_delivery_stream") or {}).items():
                if not body.get("kinesis_source_configuration"):
                    continue
                s3 = _one(body.get("extended_s3_configuration") or [{}])
                bucket = re.search(r'bucket_arns\[\\?"([^"\\]+)\\?"\]', str(s3.get("bucket_arn", "")))
                stream_name = str(body.get("name", name))
                out.append(
                    FirehoseSpec(
                        resource=name,
                        name_suffix=stream_name.rsplit("}-", 1)[-1] if "}-" in stream_name else stream_name,
                        bucket_key=bucket.group(1) if bucket else name,
                        prefix=str(s3.get("prefix") or ""),
                        error_prefix=str(s3.get("error_output_prefix") or ""),
                        buffer_mb=int(s3.get("buffering_size") or 5),
                        buffer_seconds=int(s3.get("buffering_interval") or 300),
                        compression=str(s3.get("compression_format") or "UNCOMPRESSED").upper(),
                    )
                )
    return out


def render_prefix(prefix: str, when: datetime) -> str:
    """Firehose custom prefix expressions: !{timestamp:<java pattern>}, !{firehose:random-string}."""

    def replace(match: re.Match[str]) -> str:
        namespace, _, arg = match.group(1).partition(":")
        if namespace == "timestamp":
            fmt = arg
            for java, strf in _JAVA_TIME:
                fmt = fmt.replace(java, strf)
            return when.astimezone(UTC).strftime(fmt)
        if namespace == "firehose" and arg == "random-string":
            return uuid.uuid4().hex[:11]
        raise ValueError(f"unsupported Firehose prefix expression !{{{match.group(1)}}}")

    return re.sub(r"!\{([^}]+)\}", replace, prefix)


def object_key(spec: FirehoseSpec, stream_name: str, when: datetime) -> str:
    stamp = when.astimezone(UTC).strftime("%Y-%m-%d-%H-%M-%S")
    prefix = render_prefix(spec.prefix, when) if spec.prefix else when.astimezone(UTC).strftime("%Y/%m/%d/%H/")
    suffix = ".gz" if spec.compression == "GZIP" else ""
    return f"{prefix}{stream_name}-1-{stamp}-{uuid.uuid4()}{suffix}"


@dataclass
class ArchiveStats:
    records: int = 0
    objects: int = 0
    bytes: int = 0
    keys: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {"records": self.records, "objects": self.objects, "bytes": self.bytes, "lastKey": self.keys[-1:]}


class FirehoseArchiver:
    """Consumes every shard of the stream from its start and delivers buffers to S3."""

    def __init__(
        self,
        spec: FirehoseSpec,
        stream_name: str,
        delivery_stream: str,
        bucket: str,
        kms_key_arn: str | None,
        kinesis: Any,
        s3: Any,
        buffer_seconds: float | None = 2.0,
        poll: float = 0.2,
    ):
        self.spec, self.stream, self.name, self.bucket, self.kms = (
            spec,
            stream_name,
            delivery_stream,
            bucket,
            kms_key_arn,
        )
        self.kinesis, self.s3, self.poll = kinesis, s3, poll
        self.buffer_seconds = (
            spec.buffer_seconds if buffer_seconds is None else min(buffer_seconds, spec.buffer_seconds)
        )
        self.stats = ArchiveStats()
        self._buffer: list[bytes] = []
        self._oldest: datetime | None = None
        self._since = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for shard in self.kinesis.list_shards(StreamName=self.stream)["Shards"]:
            t = threading.Thread(target=self._consume, args=(shard["ShardId"],), name=f"firehose-{shard['ShardId']}")
            t.daemon = True
            t.start()
            self._threads.append(t)
        t = threading.Thread(target=self._timer, name=f"firehose-{self.name}-timer", daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=10)
        self.flush()

    def _consume(self, shard_id: str) -> None:
        iterator = self.kinesis.get_shard_iterator(
            StreamName=self.stream, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while not self._stop.is_set():
            try:
                resp = self.kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("Firehose source read failed on %s", shard_id)
                self._stop.wait(0.5)
                continue
            iterator = resp.get("NextShardIterator") or iterator
            records = resp.get("Records") or []
            if records:
                self._add(records)
            else:
                self._stop.wait(self.poll)

    def _add(self, records: list[dict[str, Any]]) -> None:
        full = False
        with self._lock:
            for r in records:
                arrival = r.get("ApproximateArrivalTimestamp")
                arrival = arrival if isinstance(arrival, datetime) else datetime.now(UTC)
                if self._oldest is None:
                    self._oldest, self._since = arrival, time.monotonic()
                self._buffer.append(bytes(r["Data"]))
            full = sum(len(b) for b in self._buffer) >= self.spec.buffer_mb * 1024 * 1024
        if full:
            self.flush()

    def _timer(self) -> None:
        while not self._stop.wait(0.2):
            with self._lock:
                due = bool(self._buffer) and time.monotonic() - self._since >= self.buffer_seconds
            if due:
                try:
                    self.flush()
                except Exception:
                    log.exception("Firehose delivery to s3://%s failed; kept for the next attempt", self.bucket)

    def flush(self) -> str | None:
        with self._lock:
            if not self._buffer:
                return None
            data, when, count = b"".join(self._buffer), self._oldest or datetime.now(UTC), len(self._buffer)
            key = object_key(self.spec, self.name, when)
            body = gzip.compress(data) if self.spec.compression == "GZIP" else data
            extra: dict[str, Any] = {}
            if self.kms:
                extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms}
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, **extra)  # raises: buffer kept
            self._buffer, self._oldest = [], None
        with self.stats.lock:
            self.stats.records += count
            self.stats.objects += 1
            self.stats.bytes += len(body)
            self.stats.keys.append(key)
        return key
