"""The detector's dead-letter queue (`DETECTOR_DLQ_URL`): poison records kept *with their payload*.

Kinesis on-failure destinations only receive batch metadata (shard, sequence range), not the data,
so the detector sends each record it cannot accept here itself (message built by
`detection.batch.dlq_message`: data, reason, origin).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from anomaly_guardian.adapters.dynamodb import client

MAX_BATCH_BYTES = 250_000


class SqsDeadLetterQueue:
    def __init__(self, queue_url: str | None, *, sqs: Any = None) -> None:
        # None (DETECTOR_DLQ_URL unset) fails the poison records (reported, logged), not every batch.
        self.queue_url = queue_url
        self._sqs = sqs

    @property
    def sqs(self) -> Any:
        if self._sqs is None:
            self._sqs = client("sqs")
        return self._sqs

    def send(self, messages: Sequence[tuple[str, str]]) -> set[str]:
        """Send (id, body) pairs (SendMessageBatch, <=10 and <=250 KB per call); returns the ids sent."""
        if not self.queue_url:
            raise RuntimeError("DETECTOR_DLQ_URL is not set: poison records cannot be kept")
        sent: set[str] = set()
        batch: list[dict[str, str]] = []
        size = 0
        ids = {}
        for n, (ident, body) in enumerate(messages):
            entry_id = f"m{n}"
            ids[entry_id] = ident
            if batch and (len(batch) == 10 or size + len(body) > MAX_BATCH_BYTES):
                sent |= self._flush(batch, ids)
                batch, size = [], 0
            batch.append({"Id": entry_id, "MessageBody": body})
            size += len(body)
        if batch:
            sent |= self._flush(batch, ids)
        return sent

    def _flush(self, batch: list[dict[str, str]], ids: dict[str, str]) -> set[str]:
        resp = self.sqs.send_message_batch(QueueUrl=self.queue_url, Entries=batch)
        return {ids[s["Id"]] for s in resp.get("Successful", [])}
