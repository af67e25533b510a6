"""CloudWatch Logs subscription filters on the local stack (e.g. the CloudTrail log group -> usage_ingest).

moto stores log groups and events but cannot deliver a subscription to a function it does not host,
so a poller per `CloudWatchLogs` event source reads new events (`FilterLogEvents`), applies the
filter's pattern (`filter_matches`: JSON patterns such as `{ $.eventVersion = * }`, term patterns,
empty = everything) and invokes the function with the real subscription payload: `{"awslogs":
{"data": base64(gzip(JSON))}}` with `messageType: DATA_MESSAGE`, `owner`, `logGroup`, `logStream`,
`subscriptionFilters` and `logEvents[{id, timestamp, message}]`, one invocation per log stream and
poll. The invocation is asynchronous as in AWS: retried twice, then the function's dead-letter
queue gets the payload (`AsyncInvoker`).
"""

from __future__ import annotations

import base64
import fnmatch
import gzip
import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from anomaly_guardian.local.cfn import ACCOUNT_ID

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------- filter patterns
_TOKEN = re.compile(
    r"\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<and>&&)|(?P<or>\|\|)"
    r"|(?P<sel>\$(?:\.[A-Za-z0-9_$@-]+|\[\d+\])+)"
    r"|(?P<op>!=|<=|>=|=|<|>)"
    r"|(?P<kw>IS\s+NULL|IS\s+TRUE|IS\s+FALSE|NOT\s+EXISTS)"
    r"|(?P<str>\"(?:[^\"\\]|\\.)*\")"
    r"|(?P<word>[^\s()&|=!<>\"]+))"
)


def _select(doc: Any, selector: str) -> tuple[bool, Any]:
    value = doc
    for part in re.findall(r"\.([A-Za-z0-9_$@-]+)|\[(\d+)\]", selector):
        key, index = part
        if key and isinstance(value, dict) and key in value:
            value = value[key]
        elif index and isinstance(value, list) and int(index) < len(value):
            value = value[int(index)]
        else:
            return False, None
    return True, value


def _compare(found: bool, value: Any, op: str, operand: str, quoted: bool) -> bool:
    if not found:
        return op == "!="
    if not quoted:
        try:
            number = float(operand)
        except ValueError:
            number = None
        if number is not None and isinstance(value, int | float) and not isinstance(value, bool):
            return {
                "=": value == number,
                "!=": value != number,
                "<": value < number,
                ">": value > number,
                "<=": value <= number,
                ">=": value >= number,
            }[op]
    if op not in ("=", "!="):
        return False
    if isinstance(value, dict | list) or value is None:
        text = json.dumps(value) if value is not None else "null"
        hit = operand == "*" or text == operand
    else:
        text = str(value).lower() if isinstance(value, bool) else str(value)
        hit = fnmatch.fnmatchcase(text, operand) if "*" in operand else text == operand
    return hit if op == "=" else not hit


class _JsonPattern:
    def __init__(self, text: str):
        self.tokens = [(m.lastgroup, m.group(m.lastgroup or 0)) for m in _TOKEN.finditer(text) if m.lastgroup]
        rest = _TOKEN.sub("", text).strip()
        if rest:
            raise ValueError(f"unsupported filter pattern near {rest!r}")
        self.pos = 0

    def _peek(self) -> str | None:
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else None

    def _take(self, kind: str) -> str:
        if self._peek() != kind:
            raise ValueError(f"filter pattern: expected {kind} at token {self.pos}")
        value = self.tokens[self.pos][1]
        self.pos += 1
        return value

    def evaluate(self, doc: Any) -> bool:
        result = self._or(doc)
        if self.pos != len(self.tokens):
            raise ValueError("filter pattern: trailing tokens")
        return result

    def _or(self, doc: Any) -> bool:
        value = self._and(doc)
        while self._peek() == "or":
            self._take("or")
            value = self._and(doc) or value
        return value

    def _and(self, doc: Any) -> bool:
        value = self._term(doc)
        while self._peek() == "and":
            self._take("and")
            value = self._term(doc) and value
        return value

    def _term(self, doc: Any) -> bool:
        if self._peek() == "lp":
            self._take("lp")
            value = self._or(doc)
            self._take("rp")
            return value
        found, value = _select(doc, self._take("sel"))
        if self._peek() == "kw":
            kw = " ".join(self._take("kw").split())
            return {
                "IS NULL": found and value is None,
                "IS TRUE": value is True,
                "IS FALSE": value is False,
                "NOT EXISTS": not found,
            }[kw]
        op = self._take("op")
        if self._peek() == "str":
            return _compare(found, value, op, json.loads(self._take("str")), True)
        return _compare(found, value, op, self._take("word"), False)


def filter_matches(pattern: str, message: str) -> bool:
    """Does a log event's message match a subscription/metric filter pattern?"""
    pattern = (pattern or "").strip()
    if not pattern:
        return True
    if pattern.startswith("{") and pattern.endswith("}"):
        try:
            doc = json.loads(message)
        except ValueError:
            return False  # JSON patterns only match JSON messages
        return _JsonPattern(pattern[1:-1]).evaluate(doc)
    # Term patterns: every term present (quoted terms as phrases), `-term` excluded, `?a ?b` any of.
    terms = re.findall(r'"[^"]*"|\S+', pattern)
    optional = [t[1:] for t in terms if t.startswith("?")]
    if optional:
        return any(t.strip('"') in message for t in optional)
    return all((t[1:].strip('"') not in message) if t.startswith("-") else (t.strip('"') in message) for t in terms)


# ---------------------------------------------------------------------------------------------- subscription delivery
def subscription_event(log_group: str, log_stream: str, filter_name: str, events: list[dict[str, Any]]) -> dict:
    """The event a Lambda subscribed to a log group receives (`awslogs.data`)."""
    payload = {
        "messageType": "DATA_MESSAGE",
        "owner": ACCOUNT_ID,
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": [filter_name],
        "logEvents": [{"id": e["eventId"], "timestamp": e["timestamp"], "message": e["message"]} for e in events],
    }
    data = base64.b64encode(gzip.compress(json.dumps(payload).encode())).decode()
    return {"awslogs": {"data": data}}


@dataclass
class SubscriptionStats:
    events_seen: int = 0
    events_delivered: int = 0
    events_filtered_out: int = 0
    invocations: int = 0
    failed_deliveries: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if k != "lock"}


class LogSubscription:
    """Polls one log group and delivers matching events to a function like a subscription filter."""

    def __init__(
        self,
        logs: Any,
        log_group: str,
        filter_name: str,
        pattern: str,
        function: Any,
        invoker: Any,
        poll: float = 0.3,
    ):
        self.logs, self.log_group, self.filter_name, self.pattern = logs, log_group, filter_name, pattern
        self.function, self.invoker, self.poll = function, invoker, poll
        self.stats = SubscriptionStats()
        self._seen: dict[str, int] = {}  # eventId -> timestamp (pruned)
        self._since = int(time.time() * 1000) - 1000
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"logs-{self.log_group}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.poll):
            try:
                self.poll_once()
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("FilterLogEvents failed on %s", self.log_group)

    def _new_events(self) -> list[dict[str, Any]]:
        """Events not delivered yet. Look back a minute past the newest seen timestamp: PutLogEvents
        may carry timestamps slightly in the past, and ids make the overlap harmless."""
        out: list[dict[str, Any]] = []
        args: dict[str, Any] = {"logGroupName": self.log_group, "startTime": self._since - 60_000}
        while True:
            resp = self.logs.filter_log_events(**args)
            out += [e for e in resp.get("events") or [] if e["eventId"] not in self._seen]
            token = resp.get("nextToken")
            if not token or not resp.get("events"):
                break
            args["nextToken"] = token
        return out

    def poll_once(self) -> int:
        fresh = self._new_events()
        if not fresh:
            return 0
        for e in fresh:
            self._seen[e["eventId"]] = e["timestamp"]
        self._since = max(self._since, *(e["timestamp"] for e in fresh))
        horizon = self._since - 600_000
        self._seen = {k: t for k, t in self._seen.items() if t >= horizon}
        matching = [e for e in fresh if filter_matches(self.pattern, e["message"])]
        with self.stats.lock:
            self.stats.events_seen += len(fresh)
            self.stats.events_filtered_out += len(fresh) - len(matching)
        by_stream: dict[str, list[dict[str, Any]]] = {}
        for e in sorted(matching, key=lambda e: e["timestamp"]):
            by_stream.setdefault(e["logStreamName"], []).append(e)
        for stream, events in by_stream.items():
            for start in range(0, len(events), 1000):
                chunk = events[start : start + 1000]
                ok = self.invoker.invoke(
                    self.function, subscription_event(self.log_group, stream, self.filter_name, chunk)
                )
                with self.stats.lock:
                    self.stats.invocations += 1
                    self.stats.events_delivered += len(chunk) if ok else 0
                    self.stats.failed_deliveries += 0 if ok else 1
        return len(matching)
