"""Which AWS errors are worth retrying: the response workflow retries those (TransientActionError)
and sends everything else straight to its failure path. The classification lives in the domain
(`anomaly_guardian.errors`, no botocore import); this module keeps the old import path."""

from __future__ import annotations

from anomaly_guardian.errors import TRANSIENT_CODES, is_transient

__all__ = ["TRANSIENT_CODES", "is_transient"]
