"""Kinesis PutRecords behind the ingest `RecordSink` port: one call, per-entry outcome.

Retrying is the caller's job (ingest retries only the entries a partial failure names). Throttling of
the whole call is reported as every entry failing with that code, so the same retry loop handles it;
any other error (stream missing, access denied, KMS key disabled) raises: it will not heal by retrying.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from anomaly_guardian.adapters.dynamodb import client

MAX_RECORDS_PER_CALL = 500
RETRYABLE_CALL_ERRORS = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
        "KMSThrottlingException",
        "InternalFailure",
        "ServiceUnavailable",
        "ThrottlingException",
    }
)


class KinesisSink:
    def __init__(self, stream_name: str, *, kinesis: Any = None) -> None:
        self.stream_name = stream_name
        self._kinesis = kinesis

    @property
    def kinesis(self) -> Any:
        if self._kinesis is None:
            self._kinesis = client("kinesis")
        return self._kinesis

    def put(self, entries: Sequence[tuple[bytes, str]]) -> list[str | None]:
        out: list[str | None] = []
        for start in range(0, len(entries), MAX_RECORDS_PER_CALL):
            chunk = entries[start : start + MAX_RECORDS_PER_CALL]
            try:
                resp = self.kinesis.put_records(
                    StreamName=self.stream_name,
                    Records=[{"Data": data, "PartitionKey": key} for data, key in chunk],
                )
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code not in RETRYABLE_CALL_ERRORS:
                    raise
                out.extend([code] * len(chunk))
                continue
            except (BotoConnectionError, HTTPClientError) as exc:  # timeouts, endpoint unreachable
                # this chunk did not (knowably) land; earlier chunks did: report per entry, never all-or-nothing
                out.extend([type(exc).__name__] * len(chunk))
                continue
            out.extend(r.get("ErrorCode") for r in resp["Records"])
        return out
