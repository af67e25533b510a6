"""Scheduled functions (`Schedule` / `ScheduleV2` events with `rate(...)`) run on a local timer.

`cron(...)` schedules (daily drift checks, weekly retraining) are listed as not emulated: they
would not fire during a local session anyway. The event is the schedule's `Input` when given,
else the EventBridge "Scheduled Event" shape.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from anomaly_guardian.local.cfn import ACCOUNT_ID, REGION
from anomaly_guardian.local.runtime import FunctionError, LocalFunction

log = logging.getLogger(__name__)
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


def rate_seconds(expression: str) -> int | None:
    m = _RATE.match(expression.strip())
    return int(m.group(1)) * _UNIT[m.group(2)] if m else None


def scheduled_event(rule: str, payload: str | None) -> dict[str, Any]:
    if payload:
        return json.loads(payload)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": ACCOUNT_ID,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule/default/{rule}"],
        "detail": {},
    }


class Schedule:
    def __init__(self, name: str, function: LocalFunction, every: float, payload: str | None = None):
        self.name, self.function, self.every, self.payload = name, function, every, payload
        self.runs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"schedule-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.runs += 1
            try:
                self.function.invoke(scheduled_event(self.name, self.payload))
            except FunctionError:
                log.warning("scheduled run of %s failed (logged above)", self.name)
