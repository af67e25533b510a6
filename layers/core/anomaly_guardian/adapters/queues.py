"""SQS queues the response side writes: the response queue, the webhook queue (per-message delay) and its DLQ."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from anomaly_guardian.adapters.dynamodb import chunks, client


class QueueError(RuntimeError):
    pass


class Queue:
    def __init__(self, url: str, sqs: Any = None):
        self.url = url
        self.sqs = sqs or client("sqs")

    def send(self, body: Mapping[str, Any], delay_seconds: int = 0, attributes: Mapping[str, str] | None = None) -> str:
        kwargs: dict[str, Any] = {}
        if attributes:
            kwargs["MessageAttributes"] = {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()}
        resp = self.sqs.send_message(
            QueueUrl=self.url, MessageBody=json.dumps(body, default=str), DelaySeconds=int(delay_seconds), **kwargs
        )
        return resp["MessageId"]

    def send_batch(self, bodies: Sequence[Mapping[str, Any]]) -> int:
        """SendMessageBatch in tens; raises naming the entries SQS refused (callers fail the batch)."""
        for chunk in chunks(list(bodies), 10):
            entries = [{"Id": str(i), "MessageBody": json.dumps(b, default=str)} for i, b in enumerate(chunk)]
            resp = self.sqs.send_message_batch(QueueUrl=self.url, Entries=entries)
            failed = resp.get("Failed", [])
            if failed:
                raise QueueError(f"{len(failed)} message(s) refused by SQS: {failed[0].get('Code')}")
        return len(bodies)
