"""Which failures are worth a retry: throttling, timeouts, connection errors, 5xx answers, lost races.

Judged by exception type name and AWS error code, without importing botocore, so pure modules (the
detector's batch logic, the API's error mapping, ingest) can decide without touching AWS.
"""

from __future__ import annotations

from collections.abc import Mapping

TRANSIENT_ERRORS = frozenset(
    {
        "StateConflictsExhausted",
        "StateConflict",
        "UnprocessedItems",
        "EndpointConnectionError",
        "ConnectionClosedError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "HTTPClientError",
        "ConnectionError",
        "TimeoutError",
    }
)
TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
        "TransactionCanceledException",
        "Throttling",
        "RequestTimeout",
        "SlowDown",
    }
)


def is_transient(exc: BaseException) -> bool:
    """Throttling, timeouts, connection failures, 5xx answers and lost races: worth a retry by Kinesis.
    Judged by type and error code (no botocore import: this module stays free of AWS)."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 5:
        if type(current).__name__ in TRANSIENT_ERRORS:
            return True
        response = getattr(current, "response", None)
        if isinstance(response, Mapping):
            code = str((response.get("Error") or {}).get("Code") or "")
            status = int((response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
            if code in TRANSIENT_CODES or status >= 500:
                return True
        current = current.__cause__ or current.__context__
        seen += 1
    return False


RETRY_AFTER_SECONDS = 5  # what a 503 tells the caller (Retry-After)
