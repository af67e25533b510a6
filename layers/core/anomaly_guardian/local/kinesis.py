"""A Kinesis event source mapping: one poller thread per shard feeding the detector handler.

Batches have the exact Lambda shape (`Records[].kinesis` with base64 data, eventSourceARN, eventID
`shardId:sequence`). With `ReportBatchItemFailures` the handler's `batchItemFailures` are honoured
like the real mapping: everything before the lowest failed sequence number is checkpointed and the
shard is re-read from that sequence number (`AT_SEQUENCE_NUMBER`). A batch that keeps failing
after `MaximumRetryAttempts` goes to the `OnFailure` destination as Lambda would send it (batch
metadata, not the records) and the shard moves on; without a destination it is logged as
discarded. Counters make "no event lost" checkable: processed + sent_to_destination = received.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from anomaly_guardian.local.cfn import REGION
from anomaly_guardian.local.runtime import FunctionError, LocalFunction

log = logging.getLogger(__name__)


@dataclass
class StreamStats:
    received: int = 0  # distinct records delivered at least once
    processed: int = 0  # records checkpointed as successful
    sent_to_destination: int = 0  # records whose batch went to the OnFailure destination
    discarded: int = 0  # records dropped after retries with no destination (logged)
    invocations: int = 0
    function_errors: int = 0
    partial_failures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if k != "lock"}


@dataclass
class KinesisMapping:
    stream_name: str
    stream_arn: str
    function: LocalFunction
    batch_size: int = 100
    starting_position: str = "TRIM_HORIZON"
    max_retries: int = 3  # -1 in AWS means "until the record expires"; locally capped
    report_item_failures: bool = True
    on_failure_arn: str | None = None
    bisect_on_error: bool = False  # BisectBatchOnFunctionError: a raising batch is retried in halves


def to_lambda_record(rec: dict[str, Any], shard_id: str, stream_arn: str) -> dict[str, Any]:
    arrival = rec.get("ApproximateArrivalTimestamp")
    arrival_ts = arrival.timestamp() if isinstance(arrival, datetime) else float(arrival or time.time())
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": rec["PartitionKey"],
            "sequenceNumber": rec["SequenceNumber"],
            "data": base64.b64encode(rec["Data"]).decode("ascii"),
            "approximateArrivalTimestamp": round(arrival_ts, 3),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{rec['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/anomaly-guardian-local-detector",
        "awsRegion": REGION,
        "eventSourceARN": stream_arn,
    }


class KinesisPoller:
    """Runs a mapping: `start()` spawns a thread per shard, `stop()` joins them."""

    def __init__(
        self,
        mapping: KinesisMapping,
        kinesis: Any,
        sqs: Any = None,
        sns: Any = None,
        poll: float = 0.05,
        environments: list[LocalFunction] | None = None,
    ):
        """`environments`: one execution environment per shard (Lambda runs one invocation per shard
        concurrently); shards beyond the list share them round-robin. Default: `mapping.function`."""
        self.m = mapping
        self.environments = environments or [mapping.function]
        self._env_of: dict[str, LocalFunction] = {}
        self.kinesis = kinesis
        self.sqs = sqs
        self.sns = sns
        self.poll = poll
        self.stats = StreamStats()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._caught_up: dict[str, bool] = {}
        self._seen_max: dict[str, int] = {}
        self._fn_error: dict[str, bool] = {}  # did the last invocation on this shard raise?

    # ---- what differs between stream services (DynamoDBStreamPoller overrides these)
    event_source = "aws:kinesis"
    batch_info_key = "KinesisBatchInfo"

    def _shard_ids(self) -> list[str]:
        return [s["ShardId"] for s in self.kinesis.list_shards(StreamName=self.m.stream_name)["Shards"]]

    def _fetch(self, iterator: str, limit: int) -> tuple[list[dict[str, Any]], str | None, bool]:
        """(records, next iterator, caught up) for one GetRecords call."""
        resp = self.kinesis.get_records(ShardIterator=iterator, Limit=limit)
        return resp.get("Records") or [], resp.get("NextShardIterator"), resp.get("MillisBehindLatest", 0) == 0

    @staticmethod
    def _seq(record: dict[str, Any]) -> str:
        return str(record["SequenceNumber"])

    def _lambda_record(self, record: dict[str, Any], shard_id: str) -> dict[str, Any]:
        return to_lambda_record(record, shard_id, self.m.stream_arn)

    @staticmethod
    def _arrival(record: dict[str, Any]) -> Any:
        return record.get("ApproximateArrivalTimestamp")

    # ---- the mapping itself
    def start(self) -> None:
        for i, sid in enumerate(self._shard_ids()):
            self._env_of[sid] = self.environments[i % len(self.environments)]
            self._caught_up[sid] = False
            t = threading.Thread(target=self._run, args=(sid,), name=f"kinesis-{sid}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=10)

    @property
    def caught_up(self) -> bool:
        return all(self._caught_up.values())

    def _iterator(self, shard_id: str, kind: str, seq: str | None = None) -> str:
        args: dict[str, Any] = {"StreamName": self.m.stream_name, "ShardId": shard_id, "ShardIteratorType": kind}
        if seq is not None:
            args["StartingSequenceNumber"] = seq
        return self.kinesis.get_shard_iterator(**args)["ShardIterator"]

    def _run(self, shard_id: str) -> None:
        attempts = 0
        limit_records = self.m.batch_size
        iterator = self._iterator(shard_id, self.m.starting_position)
        while not self._stop.is_set():
            try:
                records, next_iterator, caught_up = self._fetch(iterator, limit_records)
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("GetRecords failed on %s; retrying", shard_id)
                time.sleep(0.5)
                continue
            if not records:
                self._caught_up[shard_id] = caught_up
                iterator = next_iterator or iterator
                self._stop.wait(self.poll)
                continue
            self._caught_up[shard_id] = False
            self._count_received(shard_id, records)
            failed_from = self._deliver(shard_id, records)
            if failed_from is None:
                attempts = 0
                limit_records = self.m.batch_size
                iterator = next_iterator
                continue
            if self._fn_error.get(shard_id) and self.m.bisect_on_error and len(records) > 1:
                # Like the real mapping: split the batch in two and retry (halves do not use up retries).
                limit_records = max(1, len(records) // 2)
                iterator = self._iterator(shard_id, "AT_SEQUENCE_NUMBER", self._seq(records[0]))
                continue
            # A failure after progress is the first failure of the new checkpoint.
            attempts = 1 if failed_from > 0 else attempts + 1
            failed = records[failed_from:]
            with self.stats.lock:
                self.stats.processed += failed_from
            limit = self.m.max_retries
            if limit >= 0 and attempts > limit:
                self._give_up(shard_id, failed)
                attempts = 0
                limit_records = self.m.batch_size
                iterator = next_iterator
                continue
            # Like the real mapping: restart the shard at the first failed record.
            self._stop.wait(min(0.05 * 2**attempts, 1.0))
            iterator = self._iterator(shard_id, "AT_SEQUENCE_NUMBER", self._seq(failed[0]))

    def _count_received(self, shard_id: str, records: list[dict[str, Any]]) -> None:
        high = self._seen_max.get(shard_id, -1)
        fresh = [r for r in records if int(self._seq(r)) > high]
        if fresh:
            self._seen_max[shard_id] = int(self._seq(fresh[-1]))
        with self.stats.lock:
            self.stats.received += len(fresh)

    def _deliver(self, shard_id: str, records: list[dict[str, Any]]) -> int | None:
        """Invoke once; None when the batch succeeded, else the index to restart from."""
        event = {"Records": [self._lambda_record(r, shard_id) for r in records]}
        with self.stats.lock:
            self.stats.invocations += 1
        self._fn_error[shard_id] = False
        try:
            result = self._env_of.get(shard_id, self.m.function).invoke(event)
        except FunctionError:
            self._fn_error[shard_id] = True
            with self.stats.lock:
                self.stats.function_errors += 1
            return 0
        failures = (result or {}).get("batchItemFailures") if isinstance(result, dict) else None
        if not failures or not self.m.report_item_failures:
            with self.stats.lock:
                self.stats.processed += len(records)
            return None
        with self.stats.lock:
            self.stats.partial_failures += 1
        index = {self._seq(r): i for i, r in enumerate(records)}
        positions = [index.get(str(f.get("itemIdentifier"))) for f in failures]
        if any(p is None for p in positions):
            log.warning("batchItemFailures names an unknown sequence number: the whole batch is retried")
            return 0
        return min(p for p in positions if p is not None)

    def _give_up(self, shard_id: str, records: list[dict[str, Any]]) -> None:
        n = len(records)
        if not self.m.on_failure_arn:
            log.error(
                "%d record(s) on %s discarded after %d retries (no OnFailure destination)",
                n,
                shard_id,
                self.m.max_retries,
            )
            with self.stats.lock:
                self.stats.discarded += n
            return
        first, last = records[0], records[-1]
        payload = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.m.function.spec.arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": self.m.max_retries + 1,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            self.batch_info_key: {
                "shardId": shard_id,
                "startSequenceNumber": self._seq(first),
                "endSequenceNumber": self._seq(last),
                "approximateArrivalOfFirstRecord": _iso(self._arrival(first)),
                "approximateArrivalOfLastRecord": _iso(self._arrival(last)),
                "batchSize": n,
                "streamArn": self.m.stream_arn,
            },
        }
        dest = self.m.on_failure_arn
        if ":sqs:" in dest and self.sqs is not None:
            name = dest.rsplit(":", 1)[-1]
            url = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
            self.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(payload))
        elif ":sns:" in dest and self.sns is not None:
            self.sns.publish(TopicArn=dest, Message=json.dumps(payload))
        log.error("%d record(s) on %s sent to %s after %d retries", n, shard_id, dest, self.m.max_retries)
        with self.stats.lock:
            self.stats.sent_to_destination += n


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return None
