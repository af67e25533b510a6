"""Helpers shared by the integration tests."""

from __future__ import annotations

import time


def wait_for(predicate, timeout: float = 8.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()
