"""Asynchronous Lambda invocation as the event sources that use it see it (CloudWatch Logs
subscriptions, EventBridge rules, EventBridge Scheduler).

Lambda runs the event; when the handler raises it retries (`EventInvokeConfig.MaximumRetryAttempts`,
default 2; locally after a short pause instead of 1 and 2 minutes) and then sends the event to the
function's `DeadLetterQueue` (SQS/SNS, the event as the body with Lambda's `RequestID`, `ErrorCode`,
`ErrorMessage` attributes) or its `EventInvokeConfig` on-failure destination. Nothing is dropped
silently: without either it is logged and counted as discarded.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from anomaly_guardian.local.runtime import FunctionError

log = logging.getLogger(__name__)


@dataclass
class AsyncStats:
    invocations: int = 0
    retries: int = 0
    dead_lettered: int = 0
    discarded: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if k != "lock"}


class AsyncInvoker:
    def __init__(self, sqs: Any, sns: Any, pause: float = 0.05):
        self.sqs, self.sns, self.pause = sqs, sns, pause
        self.stats = AsyncStats()

    def invoke(self, fn: Any, event: dict[str, Any]) -> bool:
        """Run `event` on `fn` with Lambda's async retries; False when it ended in the DLQ / discarded."""
        spec = fn.spec
        attempts = 1 + max(0, int(getattr(spec, "async_retries", 2)))
        error: FunctionError | None = None
        for attempt in range(attempts):
            with self.stats.lock:
                self.stats.invocations += 1
                self.stats.retries += 1 if attempt else 0
            try:
                fn.invoke(event)
                return True
            except FunctionError as exc:
                error = exc
                time.sleep(self.pause * (attempt + 1))
        self.dead_letter(spec, event, str(error))
        return False

    def dead_letter(self, spec: Any, event: dict[str, Any], message: str) -> None:
        target = getattr(spec, "dead_letter_arn", None)
        request_id = str(uuid.uuid4())
        if not target:
            log.error("async event for %s discarded after retries (no DeadLetterQueue): %s", spec.logical_id, message)
            with self.stats.lock:
                self.stats.discarded += 1
            return
        body = json.dumps(event)
        attrs = {
            "RequestID": {"DataType": "String", "StringValue": request_id},
            "ErrorCode": {"DataType": "Number", "StringValue": "200"},
            "ErrorMessage": {"DataType": "String", "StringValue": message[:1000] or "Unhandled"},
        }
        send_to(self.sqs, self.sns, target, body, attrs)
        log.error("async event for %s sent to %s after retries: %s", spec.logical_id, target, message)
        with self.stats.lock:
            self.stats.dead_lettered += 1


def send_to(sqs: Any, sns: Any, arn: str, body: str, attributes: dict[str, Any] | None = None) -> None:
    """Deliver a message to an SQS queue or SNS topic named by ARN (DLQs and failure destinations)."""
    if ":sqs:" in arn:
        url = sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes or {})
    elif ":sns:" in arn:
        sns.publish(TopicArn=arn, Message=body)
    else:
        raise ValueError(f"unsupported dead-letter target {arn}")
