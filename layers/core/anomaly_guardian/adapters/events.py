"""EventBridge bus for anomaly/incident events (`source` anomaly-guardian)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from anomaly_guardian.adapters.dynamodb import chunks, client

SOURCE = "anomaly-guardian"
MAX_ENTRIES = 10  # PutEvents limit per call


class PublishError(RuntimeError):
    def __init__(self, failed: int, code: str | None):
        super().__init__(f"{failed} event(s) refused by EventBridge ({code})")
        self.failed = failed


class EventBus:
    def __init__(self, bus_name: str = "default", events: Any = None):
        self.bus = bus_name
        self.events = events or client("events")

    def put(self, detail_type: str, details: Sequence[Mapping[str, Any]]) -> int:
        """One PutEvents call per 10 details; raises if any entry is refused (the caller retries)."""
        calls = 0
        for chunk in chunks(list(details), MAX_ENTRIES):
            entries = [
                {
                    "Source": SOURCE,
                    "DetailType": detail_type,
                    "Detail": json.dumps(d, default=str, separators=(",", ":")),
                    "EventBusName": self.bus,
                }
                for d in chunk
            ]
            resp = self.events.put_events(Entries=entries)
            calls += 1
            if resp.get("FailedEntryCount"):
                codes = [e.get("ErrorCode") for e in resp["Entries"] if e.get("ErrorCode")]
                raise PublishError(resp["FailedEntryCount"], codes[0] if codes else None)
        return calls
