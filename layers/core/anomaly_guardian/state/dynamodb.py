"""Moved to `anomaly_guardian.adapters.state_store` (an adapter belongs in adapters/). This shim keeps the
old import path working for code not yet updated; new code imports from adapters.state_store."""

from __future__ import annotations

from anomaly_guardian.adapters.state_store import (
    DEFAULT_TTL_DAYS as DEFAULT_TTL_DAYS,
)
from anomaly_guardian.adapters.state_store import (
    WRITE_THREADS as WRITE_THREADS,
)
from anomaly_guardian.adapters.state_store import (
    DynamoDBStateStore as DynamoDBStateStore,
)
from anomaly_guardian.adapters.state_store import (
    PartialStateConflict as PartialStateConflict,
)
