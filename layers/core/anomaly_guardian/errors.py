"""Domain errors and the retry classification the response workflow uses, with no AWS SDK import.

`is_transient` recognises the AWS SDK's errors by shape (a botocore `ClientError` carries
`response["Error"]["Code"]` and the HTTP status; a `BotoCoreError` is a connection-level failure),
so the domain can classify them without importing botocore. `adapters.errors` re-exports these names.
"""

from __future__ import annotations

from typing import Any

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


def _class_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: throttling, a 5xx, a connection-level SDK error, a timeout."""
    response: Any = getattr(exc, "response", None)
    if "ClientError" in _class_names(exc) and isinstance(response, dict):
        code = response.get("Error", {}).get("Code", "")
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return code in TRANSIENT_CODES or status >= 500
    return "BotoCoreError" in _class_names(exc) or isinstance(exc, (TimeoutError, ConnectionError))
