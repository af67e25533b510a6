"""Velocity: too many requests per user or per IP in a sliding window, or a reported request rate.

The window is exact, not bucketed: an entity's state keeps the timestamps of its most recent
`limit + 1` events inside the window (never more), so "more than `limit` events in the last
`window` seconds" is answered exactly with bounded state (101 floats at the default). After a
finding the entity is quiet for `cooldown_seconds`, so one burst raises one anomaly, not hundreds.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from anomaly_guardian.config import DetectionConfig
from anomaly_guardian.detection.base import Finding, PreparedEvent
from anomaly_guardian.models.anomaly import AnomalyType, Explanation
from anomaly_guardian.state.store import StateItem

USER_KIND = "velu"
IP_KIND = "veli"


def _keys(ev: PreparedEvent) -> tuple[str, str | None]:
    t = ev.tenant
    return f"{t}#{USER_KIND}#{ev.user}", (f"{t}#{IP_KIND}#{ev.ip}" if ev.ip else None)


def window_count(state: dict, t: float, window: float, limit: int) -> tuple[int, float]:
    """Record an event at `t`; return (events in (t - window, t], capped at limit + 1; oldest kept)."""
    ts = state.get("t")
    if ts is None:
        ts = state["t"] = [t]
    elif t >= ts[-1]:
        ts.append(t)
    else:  # late event: keep the list sorted
        bisect.insort(ts, t)
    now = ts[-1]
    cutoff = now - window
    drop = 0
    n = len(ts)
    while drop < n and ts[drop] <= cutoff:
        drop += 1
    excess = n - drop - (limit + 1)
    if excess > 0:
        drop += excess
    if drop:
        del ts[:drop]
    return len(ts), ts[0]


class VelocityDetector:
    name = "velocity"

    def __init__(self) -> None:
        # A user's peak count in the window over each period of one window (observed when the period is over,
        # so a burst counts as much as any other user's five minutes): the tenant's calibration of the per-user
        # limit (detection.calibration). Counts are capped at the limit + 1 (the window keeps no more).
        self.observed: dict[str, list[float]] = {"velocity_user": []}

    def state_keys(self, ev: PreparedEvent) -> Iterable[str]:
        if ev.event.eventType == "metric":
            return ()
        user_key, ip_key = _keys(ev)
        return (user_key, ip_key) if ip_key else (user_key,)

    def detect(self, ev: PreparedEvent, states: dict[str, StateItem], config: DetectionConfig) -> list[Finding]:
        e = ev.event
        if e.eventType == "metric":
            return []
        cfg = config.velocity
        t = ev.epoch
        window = cfg.window_seconds
        findings: list[Finding] = []
        user_state = states[f"{ev.tenant}#{USER_KIND}#{ev.user}"].state
        count, oldest = window_count(user_state, t, window, cfg.max_events_per_user)
        peak = max(user_state.get("m", 0), count)
        if t >= user_state.get("o", t + window):
            self.observed["velocity_user"].append(peak)
            peak = count
        if "o" not in user_state or t >= user_state["o"]:
            user_state["o"] = t + window
        user_state["m"] = peak
        if count > cfg.max_events_per_user and t >= user_state.get("q", 0.0):
            findings.append(self._finding(user_state, "user", count, oldest, t, cfg.max_events_per_user, cfg))
        if ev.ip:
            ip_state = states[f"{ev.tenant}#{IP_KIND}#{ev.ip}"].state
            count, oldest = window_count(ip_state, t, window, cfg.max_events_per_ip)
            if count > cfg.max_events_per_ip and t >= ip_state.get("q", 0.0):
                findings.append(self._finding(ip_state, "ip", count, oldest, t, cfg.max_events_per_ip, cfg))
        rps = e.requestsPerSecond
        if rps is not None and rps > cfg.max_requests_per_second and t >= user_state.get("qr", 0.0):
            user_state["qr"] = t + cfg.cooldown_seconds
            ratio = rps / cfg.max_requests_per_second
            findings.append(
                Finding(
                    AnomalyType.VELOCITY,
                    0.7 + 0.3 * (1.0 - 1.0 / ratio),
                    f"Reported {rps:g} requests/s, above the limit of {cfg.max_requests_per_second:g}",
                    [Explanation(feature="requestsPerSecond", observed=rps, expected=cfg.max_requests_per_second)],
                    detector=self.name,
                    entities={"velocityEntity": "requestsPerSecond"},
                )
            )
        return findings

    def _finding(self, state: dict, kind: str, count: int, oldest: float, t: float, limit: int, cfg) -> Finding:
        state["q"] = t + cfg.cooldown_seconds
        span = max(t - oldest, 1.0)
        ratio = (count / span) / (limit / cfg.window_seconds)  # observed rate over the allowed rate
        return Finding(
            AnomalyType.VELOCITY,
            0.7 + 0.3 * (1.0 - 1.0 / max(ratio, 1.0)),
            f"More than {limit} events from one {kind} within {cfg.window_seconds} s "
            f"({count} in the last {span:.0f} s)",
            [
                Explanation(
                    feature=f"events_per_{kind}_{cfg.window_seconds}s",
                    observed=count,
                    expected=limit,
                    detail=f"at least {count} events in {span:.0f} s; allowed {limit} per {cfg.window_seconds} s",
                )
            ],
            detector=self.name,
            entities={"velocityEntity": kind},
        )
