"""A DynamoDB stream event source mapping (e.g. the search indexer on the Anomalies table's stream).

The same mapping semantics as the Kinesis poller it derives from (`batchItemFailures` restart the
shard at the earliest failed record, `BisectBatchOnFunctionError` halves a raising batch,
`MaximumRetryAttempts` then the `OnFailure` destination with `DDBStreamBatchInfo`), reading moto's
DynamoDB Streams API. Records have Lambda's shape: `eventID`, `eventName` (INSERT/MODIFY/REMOVE),
`dynamodb` with `Keys`, `NewImage`/`OldImage` in attribute-value form, `SequenceNumber`,
`ApproximateCreationDateTime` in epoch seconds, and `eventSourceARN` = the table's stream ARN.
New shards (DynamoDB rolls them over) are picked up while the mapping runs.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from anomaly_guardian.local.kinesis import KinesisMapping, KinesisPoller

log = logging.getLogger(__name__)


class DynamoDBStreamPoller(KinesisPoller):
    event_source = "aws:dynamodb"
    batch_info_key = "DDBStreamBatchInfo"

    def __init__(self, mapping: KinesisMapping, streams: Any, table_name: str, dynamodb: Any, **kwargs: Any):
        super().__init__(mapping, streams, **kwargs)
        self.table_name = table_name
        self.dynamodb = dynamodb
        self.stream_arn = ""
        self._started: set[str] = set()
        self._watch: threading.Thread | None = None

    def _shard_ids(self) -> list[str]:
        if not self.stream_arn:
            table = self.dynamodb.describe_table(TableName=self.table_name)["Table"]
            self.stream_arn = table["LatestStreamArn"]
            self.m.stream_arn = self.stream_arn
        desc = self.kinesis.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        return [s["ShardId"] for s in desc["Shards"]]

    def start(self) -> None:
        ids = self._shard_ids()
        self._started.update(ids)
        super().start()
        self._watch = threading.Thread(target=self._watch_shards, name=f"ddbstream-{self.table_name}", daemon=True)
        self._watch.start()

    def _watch_shards(self) -> None:
        while not self._stop.wait(2.0):
            try:
                ids = self._shard_ids()
            except Exception:  # the emulation going away on stop
                log.debug("DescribeStream failed for %s", self.table_name, exc_info=True)
                continue
            for sid in ids:
                if sid in self._started:
                    continue
                self._started.add(sid)
                self._env_of[sid] = self.environments[len(self._started) % len(self.environments)]
                self._caught_up[sid] = False
                t = threading.Thread(target=self._run, args=(sid,), name=f"ddbstream-{sid}", daemon=True)
                t.start()
                self._threads.append(t)

    def _iterator(self, shard_id: str, kind: str, seq: str | None = None) -> str:
        args: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": shard_id, "ShardIteratorType": kind}
        if seq is not None:
            args["SequenceNumber"] = seq
        return self.kinesis.get_shard_iterator(**args)["ShardIterator"]

    def _fetch(self, iterator: str, limit: int) -> tuple[list[dict[str, Any]], str | None, bool]:
        resp = self.kinesis.get_records(ShardIterator=iterator, Limit=min(limit, 1000))
        records = resp.get("Records") or []
        return records, resp.get("NextShardIterator"), not records

    @staticmethod
    def _seq(record: dict[str, Any]) -> str:
        return str(record["dynamodb"]["SequenceNumber"])

    @staticmethod
    def _arrival(record: dict[str, Any]) -> Any:
        return record.get("dynamodb", {}).get("ApproximateCreationDateTime")

    def _lambda_record(self, record: dict[str, Any], shard_id: str) -> dict[str, Any]:
        ddb = dict(record["dynamodb"])
        created = ddb.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            ddb["ApproximateCreationDateTime"] = int(created.timestamp())
        out = {k: v for k, v in record.items() if k != "dynamodb"}
        out.update({"dynamodb": ddb, "eventSourceARN": self.stream_arn, "eventSource": "aws:dynamodb"})
        return out

    def stop(self) -> None:
        super().stop()
        if self._watch is not None:
            self._watch.join(timeout=5)
