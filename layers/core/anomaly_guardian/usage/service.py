"""The usage-ingest logic: CloudWatch Logs subscription batch -> contract events -> Kinesis.

The tenant is the account owner's, configured on the function (`USAGE_TENANT_ID`): a subscription
carries no caller identity, and nobody outside the account can write to its trail. A record that is
not a valid CloudTrail event is reported (log line with the log event id and the reason, metric) and
stays where it came from, the trail's log group and S3 bucket. Records that Kinesis does not accept
after bounded retries fail the invocation, so Lambda's asynchronous retries and its on-failure
destination keep the whole batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from anomaly_guardian.ingest.envelope import admit, now_iso, partition_key
from anomaly_guardian.ingest.service import RecordSink, put_with_retry
from anomaly_guardian.models.event import InvalidEvent
from anomaly_guardian.usage.cloudtrail import decode_subscription, records, to_event


class UsageDeliveryError(RuntimeError):
    """Some events never reached the stream; raised so the invocation is retried as a whole."""


@dataclass
class UsageResult:
    accepted: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (log event id, reason)


class UsageIngest:
    def __init__(self, sink: RecordSink, tenant: str, sleep: Callable[[float], None] = time.sleep) -> None:
        self.tenant = tenant
        self.sink = sink
        self.sleep = sleep

    def handle(self, subscription_event: Mapping[str, Any]) -> UsageResult:
        payload = decode_subscription(subscription_event)
        result = UsageResult()
        entries: list[tuple[bytes, str]] = []
        received_at = now_iso()
        for log_id, record, reason in records(payload):
            if record is None:
                result.rejected.append((log_id, reason or "unreadable"))
                continue
            event = to_event(record)
            try:  # the same gate as POST /events: exactly what the detector can decode
                data, _ = admit(self.tenant, event, received_at)
            except InvalidEvent as exc:
                result.rejected.append((log_id, exc.message))
                continue
            entries.append((data, partition_key(self.tenant, event)))
        if entries:
            failed = put_with_retry(self.sink, entries, sleep=self.sleep)
            if failed:
                raise UsageDeliveryError(f"{len(failed)} of {len(entries)} usage events were not accepted by Kinesis")
        result.accepted = len(entries)
        return result
