"""The usage-ingest logic: CloudWatch Logs subscription batch -> contract events -> Kinesis.

The tenant is the account owner's, configured on the function (`USAGE_TENANT_ID`): a subscription
carries no caller identity, and nobody outside the account can write to its trail. A record that is
not a valid CloudTrail event is reported (log line with the log event id and the reason, metric) and
stays where it came from, the trail's log group and S3 bucket. Records that Kinesis does not accept
after bounded retries fail the invocation, so Lambda's asynchronous retries and its on-failure
destination keep the whole batch.

With a search backend, the same records are also indexed into the trail's daily OpenSearch indexes
(`search.trail`: document id = eventID, so a retried batch overwrites). Documents OpenSearch throttles or
fails (429/5xx, or the whole request) fail the invocation after the stream write, so the retry re-sends
both (the detector deduplicates on eventId); a document OpenSearch refuses for good (mapping conflict)
is reported with its reason and is still on the stream and in the trail's S3 bucket.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from anomaly_guardian.ingest.envelope import admit, now_iso, partition_key
from anomaly_guardian.ingest.service import RecordSink, put_with_retry
from anomaly_guardian.models.event import InvalidEvent
from anomaly_guardian.usage.cloudtrail import decode_subscription, records, to_event

MAX_BULK = 500


class UsageDeliveryError(RuntimeError):
    """Some events never reached the stream; raised so the invocation is retried as a whole."""


@dataclass
class UsageResult:
    accepted: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (log event id, reason)
    indexed: int = 0
    index_rejected: list[tuple[str, str]] = field(default_factory=list)  # (eventID, reason)


class TrailIndex(Protocol):
    def bulk(self, body: bytes) -> dict: ...


class UsageIngest:
    def __init__(
        self,
        sink: RecordSink,
        tenant: str,
        sleep: Callable[[float], None] = time.sleep,
        search: TrailIndex | None = None,
        trail_prefix: str = "cloudtrail",
    ) -> None:
        self.tenant = tenant
        self.sink = sink
        self.sleep = sleep
        self.search = search
        self.trail_prefix = trail_prefix

    def handle(self, subscription_event: Mapping[str, Any]) -> UsageResult:
        payload = decode_subscription(subscription_event)
        result = UsageResult()
        entries: list[tuple[bytes, str]] = []
        accepted_records: list[Mapping[str, Any]] = []
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
            accepted_records.append(record)
        if entries:
            failed = put_with_retry(self.sink, entries, sleep=self.sleep)
            if failed:
                raise UsageDeliveryError(f"{len(failed)} of {len(entries)} usage events were not accepted by Kinesis")
        result.accepted = len(entries)
        if self.search is not None and accepted_records:
            self._index(accepted_records, result)
        return result

    def _index(self, records: list[Mapping[str, Any]], result: UsageResult) -> None:
        from anomaly_guardian.search.documents import retryable
        from anomaly_guardian.search.trail import bulk_lines

        for start in range(0, len(records), MAX_BULK):
            chunk = records[start : start + MAX_BULK]
            try:
                response = self.search.bulk(bulk_lines(chunk, self.trail_prefix))
            except Exception as exc:  # OpenSearchUnavailable (network, 429/5xx): retry the invocation
                raise UsageDeliveryError(f"trail indexing failed: {type(exc).__name__}: {exc}") from exc
            retry = 0
            for rec, item in zip(chunk, response.get("items", []), strict=False):
                res = next(iter(item.values()))
                status = int(res.get("status", 500))
                if status < 300:
                    result.indexed += 1
                elif retryable(status):
                    retry += 1
                else:
                    err = res.get("error") or {}
                    result.index_rejected.append((str(rec.get("eventID")), f"{status} {err.get('type', '')}".strip()))
            if retry:
                raise UsageDeliveryError(f"{retry} trail documents were throttled or failed in OpenSearch")
