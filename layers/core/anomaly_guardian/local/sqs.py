"""An SQS event source mapping: poll a queue, invoke the handler with Lambda's SQS event shape.

Successful messages are deleted; messages named in `batchItemFailures` (or the whole batch when
the function raises) are left on the queue, so they come back after the visibility timeout and
the queue's own redrive policy moves them to its DLQ after `maxReceiveCount`, as in AWS.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from anomaly_guardian.local.cfn import REGION
from anomaly_guardian.local.runtime import FunctionError, LocalFunction

log = logging.getLogger(__name__)


@dataclass
class SqsMapping:
    queue_url: str
    queue_arn: str
    function: LocalFunction
    batch_size: int = 10
    report_item_failures: bool = True


@dataclass
class QueueStats:
    received: int = 0
    deleted: int = 0
    failed: int = 0
    invocations: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if k != "lock"}


def to_lambda_record(msg: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    attrs = {}
    for name, value in (msg.get("MessageAttributes") or {}).items():
        attrs[name] = {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value.get("DataType", "String"),
        }
        attrs[name] = {k: v for k, v in attrs[name].items() if v is not None}
    return {
        "messageId": msg["MessageId"],
        "receiptHandle": msg["ReceiptHandle"],
        "body": msg["Body"],
        "attributes": dict(msg.get("Attributes") or {}),
        "messageAttributes": attrs,
        "md5OfBody": msg.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


class SqsPoller:
    def __init__(self, mapping: SqsMapping, sqs: Any, poll: float = 0.2):
        self.m = mapping
        self.sqs = sqs
        self.poll = poll
        self.stats = QueueStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        name = f"sqs-{self.m.queue_arn.rsplit(':', 1)[-1]}"
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def poll_once(self) -> int:
        resp = self.sqs.receive_message(
            QueueUrl=self.m.queue_url,
            MaxNumberOfMessages=min(10, self.m.batch_size),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = resp.get("Messages") or []
        if not messages:
            return 0
        with self.stats.lock:
            self.stats.received += len(messages)
            self.stats.invocations += 1
        event = {"Records": [to_lambda_record(m, self.m.queue_arn) for m in messages]}
        try:
            result = self.m.function.invoke(event)
        except FunctionError:
            with self.stats.lock:
                self.stats.failed += len(messages)
            return len(messages)
        failed_ids = set()
        if self.m.report_item_failures and isinstance(result, dict):
            failed_ids = {str(f.get("itemIdentifier")) for f in result.get("batchItemFailures") or []}
        done = [m for m in messages if m["MessageId"] not in failed_ids]
        for i in range(0, len(done), 10):
            chunk = done[i : i + 10]
            self.sqs.delete_message_batch(
                QueueUrl=self.m.queue_url,
                Entries=[{"Id": str(j), "ReceiptHandle": m["ReceiptHandle"]} for j, m in enumerate(chunk)],
            )
        with self.stats.lock:
            self.stats.deleted += len(done)
            self.stats.failed += len(messages) - len(done)
        return len(messages)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                n = self.poll_once()
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("SQS poll failed for %s", self.m.queue_arn)
                n = 0
            if n == 0:
                self._stop.wait(self.poll)
