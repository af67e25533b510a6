"""Which AWS errors are worth retrying: the response workflow retries those (TransientActionError)
and sends everything else straight to its failure path."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "ServiceUnavailable",
        "InternalServerError",
        "InternalFailure",
        "WAFInternalErrorException",
        "WAFOptimisticLockException",
        "TransactionConflictException",
    }
)


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return code in TRANSIENT_CODES or status >= 500
    return isinstance(exc, (BotoCoreError, TimeoutError, ConnectionError))
