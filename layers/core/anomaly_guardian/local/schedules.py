"""Scheduled functions on a local clock: `Schedule`/`ScheduleV2` events (and `AWS::Events::Rule`s with
a `ScheduleExpression`) with `rate(...)` or `cron(...)` expressions, as EventBridge Scheduler runs them.

The clock (`LocalClock`) starts at the real time and runs `speed` times faster (`guardian local
--clock-speed 60`: an hour a minute); it can be moved forward (`guardian schedules advance 1d`) or
a schedule run at once (`guardian schedules run NAME`), both through the stack's admin endpoints
(`GET /_local/schedules`, `POST /_local/schedules/{name}/run`, `POST /_local/clock`). When the clock
jumps over several occurrences of a schedule it runs once for them (missed runs are coalesced, as
a stopped laptop would), and the next occurrence is computed from the new time.

Cron expressions are AWS's six fields (minutes hours day-of-month month day-of-week year; `?`,
names, ranges, steps, lists, `L` in day-of-month, `nL` and `n#k` in day-of-week, 1 = Sunday), in UTC.
The event is the schedule's `Input` when given, else the EventBridge "Scheduled Event" shape. The
invocation is asynchronous (retried, then the function's dead-letter queue) like the real one.
"""

from __future__ import annotations

import calendar
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from anomaly_guardian.local.cfn import ACCOUNT_ID, REGION

log = logging.getLogger(__name__)
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
_MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
_DAYS = {d: i + 1 for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}  # AWS: 1 = Sunday
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*$")


def rate_seconds(expression: str) -> int | None:
    m = _RATE.match(expression.strip())
    return int(m.group(1)) * _UNIT[m.group(2)] if m else None


def parse_duration(text: str | float) -> float:
    """'90', '90s', '15m', '6h', '1d', '2w' -> seconds."""
    if isinstance(text, int | float):
        return float(text)
    m = _DURATION.match(str(text))
    if m is None:
        raise ValueError(f"not a duration: {text!r} (e.g. 90s, 15m, 6h, 1d)")
    return float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m.group(2) or "s"]


# ---------------------------------------------------------------------------------------------- cron
def _values(field_text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int]:
    out: set[int] = set()
    for part in field_text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", "?"):
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _value(a, names), _value(b, names)
        else:
            start = _value(part, names)
            end = high if step > 1 else start
        if not (low <= start <= high and low <= end <= high):
            raise ValueError(f"cron field value out of range {low}-{high}: {part}")
        out.update(range(start, end + 1, step))
    return out


def _value(text: str, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    return int(text)


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    dom: frozenset[int] | None  # None: any (`*`/`?`)
    last_dom: bool
    months: frozenset[int]
    dow: frozenset[int] | None  # AWS numbering, 1 = Sunday
    dow_nth: tuple[int, int] | None  # (day, k): the k-th such weekday of the month
    dow_last: int | None  # the last such weekday of the month
    years: frozenset[int] | None

    @classmethod
    def parse(cls, expression: str) -> Cron:
        m = re.match(r"^cron\((.*)\)$", expression.strip())
        fields = (m.group(1) if m else expression).split()
        if len(fields) != 6:
            raise ValueError(f"cron needs six fields (min hour day-of-month month day-of-week year): {expression}")
        minute, hour, dom, month, dow, year = fields
        if "?" not in (dom, dow):
            raise ValueError(f"cron: one of day-of-month / day-of-week must be '?': {expression}")
        if "W" in dom.upper().replace("L", ""):
            raise ValueError(f"cron: 'W' (nearest weekday) is not supported locally: {expression}")
        nth = last = None
        dow_set: frozenset[int] | None = None
        if "#" in dow:
            d, k = dow.split("#", 1)
            nth = (_value(d, _DAYS), int(k))
        elif dow.upper().endswith("L") and dow.upper() != "L":
            last = _value(dow[:-1], _DAYS)
        elif dow.upper() == "L":
            last = 7
        elif dow not in ("*", "?"):
            dow_set = frozenset(_values(dow, 1, 7, _DAYS))
        return cls(
            minutes=frozenset(_values(minute, 0, 59)),
            hours=frozenset(_values(hour, 0, 23)),
            dom=None if dom in ("*", "?", "L") else frozenset(_values(dom, 1, 31)),
            last_dom=dom.upper() == "L",
            months=frozenset(_values(month, 1, 12, _MONTHS)),
            dow=dow_set,
            dow_nth=nth,
            dow_last=last,
            years=None if year in ("*", "?") else frozenset(_values(year, 1970, 2199)),
        )

    def _day_matches(self, day: datetime) -> bool:
        if day.month not in self.months or (self.years is not None and day.year not in self.years):
            return False
        month_days = calendar.monthrange(day.year, day.month)[1]
        if self.last_dom and day.day != month_days:
            return False
        if self.dom is not None and day.day not in self.dom:
            return False
        aws_dow = (day.isoweekday() % 7) + 1  # Monday=1 (ISO) -> 2 (AWS); Sunday=7 -> 1
        if self.dow is not None and aws_dow not in self.dow:
            return False
        if self.dow_nth is not None:
            d, k = self.dow_nth
            if aws_dow != d or (day.day - 1) // 7 + 1 != k:
                return False
        last_weekday = aws_dow == self.dow_last and day.day + 7 > month_days
        return self.dow_last is None or last_weekday

    def next_after(self, after: datetime) -> datetime | None:
        """The first occurrence strictly after `after` (UTC), or None within the next 5 years."""
        after = after.astimezone(UTC).replace(second=0, microsecond=0)
        day = after.replace(hour=0, minute=0)
        for _ in range(366 * 5):
            if self._day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        at = day.replace(hour=hour, minute=minute)
                        if at > after:
                            return at
            day += timedelta(days=1)
        return None


# ---------------------------------------------------------------------------------------------- clock
class LocalClock:
    """Wall time, `speed` times faster, plus whatever `advance()` added."""

    def __init__(self, speed: float = 1.0, start: datetime | None = None):
        self.speed = speed
        self._base = (start or datetime.now(UTC)).timestamp()
        self._real = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.fromtimestamp(self._base + (time.monotonic() - self._real) * self.speed + self._offset, UTC)

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("the local clock only moves forward")
        with self._lock:
            self._offset += seconds
        return self.now()


# ---------------------------------------------------------------------------------------------- schedules
def scheduled_event(rule: str, payload: str | None, when: datetime | None = None) -> dict[str, Any]:
    if payload:
        return json.loads(payload)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": ACCOUNT_ID,
        "time": (when or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule/default/{rule}"],
        "detail": {},
    }


@dataclass
class Schedule:
    """One schedule of the template; `key` is `Function.EventName`, `name` the schedule's Name."""

    key: str
    name: str
    expression: str
    deliver: Callable[[dict[str, Any]], bool]  # async invocation; False when it failed for good
    payload: str | None = None
    runs: int = 0
    failures: int = 0
    last_run: datetime | None = None
    next_at: datetime | None = None
    _rate: float | None = field(default=None, repr=False)
    _cron: Cron | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        rate = rate_seconds(self.expression)
        if rate is not None:
            self._rate = float(rate)
        elif self.expression.strip().startswith("cron("):
            self._cron = Cron.parse(self.expression)
        else:
            raise ValueError(f"{self.key}: unsupported schedule expression {self.expression!r}")

    def plan(self, now: datetime) -> None:
        if self._rate is not None:
            self.next_at = now + timedelta(seconds=self._rate)
        else:
            assert self._cron is not None
            self.next_at = self._cron.next_after(now)

    def fire(self, when: datetime) -> bool:
        self.runs += 1
        self.last_run = when
        ok = self.deliver(scheduled_event(self.name, self.payload, when))
        self.failures += 0 if ok else 1
        return ok

    def describe(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "expression": self.expression,
            "next": _iso(self.next_at),
            "lastRun": _iso(self.last_run),
            "runs": self.runs,
            "failures": self.failures,
        }


def _iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


class Scheduler:
    """Fires due schedules on the local clock (one thread); `run(name)` fires one now."""

    def __init__(self, clock: LocalClock, tick: float = 0.05):
        self.clock = clock
        self.tick = tick
        self.schedules: list[Schedule] = []
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, schedule: Schedule) -> None:
        schedule.plan(self.clock.now())
        self.schedules.append(schedule)

    def find(self, name: str) -> Schedule | None:
        return next((s for s in self.schedules if name in (s.name, s.key, s.key.replace(".", "-"))), None)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="local-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def run(self, name: str) -> dict[str, Any]:
        schedule = self.find(name)
        if schedule is None:
            raise KeyError(name)
        with self._lock:
            ok = schedule.fire(self.clock.now())
        return {**schedule.describe(), "ok": ok}

    def advance(self, seconds: float) -> datetime:
        now = self.clock.advance(seconds)
        self.run_due()
        return now

    def run_due(self) -> int:
        fired = 0
        with self._lock:
            now = self.clock.now()
            for s in self.schedules:
                if s.next_at is not None and s.next_at <= now:
                    s.fire(s.next_at)
                    s.plan(now)  # occurrences skipped by a jump are coalesced into this run
                    fired += 1
        return fired

    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            try:
                self.run_due()
            except Exception:
                log.exception("local scheduler tick failed")

    def describe(self) -> dict[str, Any]:
        return {
            "clock": _iso(self.clock.now()),
            "speed": self.clock.speed,
            "schedules": [s.describe() for s in self.schedules],
        }
