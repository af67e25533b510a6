"""Feature engineering shared by training and serving: one code path, so a model never sees
features at serving time that were computed differently when it was trained.

`FeatureExtractor.transform` takes a time-ordered batch of prepared events and the per-user state
items (`{tenant}#ml#{user}`, loaded once per batch by the detector pipeline), updates the state
and returns a NumPy matrix. Training replays the same method over history with an in-memory
store, in the same batch shape, so the running aggregates match what the detector had.

Stateless columns (amount, rates, time of day, event type) are computed column-wise with NumPy;
the per-user running aggregates are a short scalar loop because each event depends on the one
before it for the same user.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from anomaly_guardian.state.store import StateItem, state_key

if TYPE_CHECKING:
    from anomaly_guardian.detection.base import PreparedEvent  # annotations only: ml sits below detection

STATE_KIND = "ml"
EVENT_TYPES: tuple[str, ...] = ("transaction", "login", "pageview", "api_request")
SEQ_LEN = 8  # events per user in the autoencoder's sequence window
METRIC_WINDOW = 16  # values per service metric in the metric autoencoder's window
METRIC_ALPHA = 0.05  # EWMA weight of a new value in the series' running level and spread
FIRST_GAP_S = 7 * 86400.0  # gap used for a user's first event (no previous one)
RATE_HALF_LIFE_S = 300.0  # decayed event count: about "events in the last 5 minutes"
MAX_DEVICES = 8
HISTORY_CAP = 20  # beyond this many events a user is simply 'established'
CENTROID_ALPHA = 0.1  # EWMA weight of a new location in the user's usual location
HOUR_ALPHA = 0.1

FEATURES: tuple[str, ...] = (
    "transaction_amount_normalized",
    "log_amount",
    "requests_per_second",
    "session_length",
    "hour_of_day",
    "day_of_week",
    "hour_deviation",
    "geo_distance_from_usual",
    "geo_speed_kmh",
    "device_change_indicator",
    "new_device",
    "user_agent_change",
    "seconds_since_last",
    "events_last_5min",
    "user_history",
    "gap_regularity",
    *(f"type_{t}" for t in EVENT_TYPES),
    "type_other",
)
F = {name: i for i, name in enumerate(FEATURES)}
SEQ_STEP: tuple[str, ...] = ("gap", *(f"type_{t}" for t in EVENT_TYPES), "type_other", "device_change")
SEQ_FEATURES: tuple[str, ...] = tuple(f"{name}_t{k}" for k in range(SEQ_LEN) for name in SEQ_STEP)


@dataclass(slots=True)
class FeatureBatch:
    """Model inputs for a batch: user events (features + sequence window) and metric events (the
    series' last METRIC_WINDOW values in units of its own running level and spread)."""

    X: np.ndarray  # (n, len(FEATURES)) float64
    seq: np.ndarray  # (n, len(SEQ_FEATURES)) float64
    rows: list[int]  # position of each user row in the input batch
    metric: np.ndarray = field(default_factory=lambda: np.zeros((0, METRIC_WINDOW)))
    metric_rows: list[int] = field(default_factory=list)
    metric_level: np.ndarray = field(default_factory=lambda: np.zeros(0))  # expected value (running mean)


def is_user_event(pe: PreparedEvent) -> bool:
    return pe.event.eventType != "metric"


def ml_state_key(pe: PreparedEvent) -> str:
    return state_key(pe.tenant, STATE_KIND, pe.user)


def metric_entity(pe: PreparedEvent) -> str:
    return f"{pe.event.service}/{pe.event.metricName}"


def metric_state_key(pe: PreparedEvent) -> str:
    return state_key(pe.tenant, STATE_KIND, f"metric:{metric_entity(pe)}")


def _haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(a)))


def _ua_tag(user_agent: str | None) -> str | None:
    # A short, non-reversible tag: state must not keep raw user agents (fingerprinting data).
    if not user_agent:
        return None
    import hashlib

    return hashlib.blake2s(user_agent.encode(), digest_size=6).hexdigest()


class FeatureExtractor:
    """Stateful feature builder used identically by `guardian train` and the model detector."""

    def state_keys(self, pe: PreparedEvent) -> Iterable[str]:
        yield ml_state_key(pe) if is_user_event(pe) else metric_state_key(pe)

    def transform(self, prepared: Sequence[PreparedEvent], states: dict[str, StateItem]) -> FeatureBatch:
        batch = self._users(prepared, states)
        batch.metric, batch.metric_rows, batch.metric_level = self._metrics(prepared, states)
        return batch

    @staticmethod
    def _metrics(
        prepared: Sequence[PreparedEvent], states: dict[str, StateItem]
    ) -> tuple[np.ndarray, list[int], np.ndarray]:
        """Window of the last METRIC_WINDOW values, standardised by the running level/spread *before*
        this value (so a spike stands out); series still warming up give no row."""
        out: list[list[float]] = []
        rows: list[int] = []
        level: list[float] = []
        for i, pe in enumerate(prepared):
            if is_user_event(pe):
                continue
            st = states[metric_state_key(pe)].state
            value = float(pe.event.metricValue)
            window = [*st.get("w", []), value][-METRIC_WINDOW:]
            mu, var, n = st.get("mu"), st.get("var", 0.0), st.get("n", 0)
            if mu is not None and len(window) == METRIC_WINDOW and n >= 2 * METRIC_WINDOW:
                sd = math.sqrt(var) + 1e-9 + 0.01 * abs(mu)
                out.append([max(-20.0, min(20.0, (v - mu) / sd)) for v in window])
                rows.append(i)
                level.append(mu)
            if mu is None:
                mu, var = value, 0.0
            else:
                delta = value - mu
                mu += METRIC_ALPHA * delta
                var = (1 - METRIC_ALPHA) * (var + METRIC_ALPHA * delta * delta)
            st.update(w=window[-(METRIC_WINDOW - 1) :], mu=mu, var=var, n=n + 1)
        metric = np.array(out, dtype=np.float64) if out else np.zeros((0, METRIC_WINDOW))
        return metric, rows, np.array(level, dtype=np.float64)

    def _users(self, prepared: Sequence[PreparedEvent], states: dict[str, StateItem]) -> FeatureBatch:
        rows = [i for i, pe in enumerate(prepared) if is_user_event(pe)]
        n = len(rows)
        X = np.zeros((n, len(FEATURES)), dtype=np.float64)
        seq = np.zeros((n, len(SEQ_FEATURES)), dtype=np.float64)
        if n == 0:
            return FeatureBatch(X, seq, rows)
        events = [prepared[i] for i in rows]

        # Stateless columns, vectorised.
        amount = np.array(
            [e.event.transactionAmount if e.event.transactionAmount is not None else np.nan for e in events]
        )
        has_amount = ~np.isnan(amount)
        X[:, F["log_amount"]] = np.where(has_amount, np.log1p(np.nan_to_num(amount)), 0.0)
        rps = np.array([e.event.requestsPerSecond or 0.0 for e in events])
        X[:, F["requests_per_second"]] = np.log1p(rps)
        sess = np.array([e.event.sessionLength or 0.0 for e in events])
        X[:, F["session_length"]] = np.log1p(sess)
        epoch = np.array([e.epoch for e in events])
        day_seconds = np.mod(epoch, 86400.0)
        hour = day_seconds / 3600.0
        X[:, F["hour_of_day"]] = hour
        X[:, F["day_of_week"]] = np.mod(np.floor(epoch / 86400.0) + 3.0, 7.0)  # 1970-01-01 was a Thursday (3)
        type_codes = np.array([_type_code(e.event.eventType) for e in events])
        X[np.arange(n), F["type_transaction"] + type_codes] = 1.0

        # Per-user running aggregates: sequential by nature (each event updates the user's state).
        z_col, dev_col, dist_col, speed_col = (
            F[k]
            for k in ("transaction_amount_normalized", "hour_deviation", "geo_distance_from_usual", "geo_speed_kmh")
        )
        chg_col, new_col, ua_col = F["device_change_indicator"], F["new_device"], F["user_agent_change"]
        gap_col, rate_col, hist_col = F["seconds_since_last"], F["events_last_5min"], F["user_history"]
        reg_col = F["gap_regularity"]
        step = len(SEQ_STEP)
        for r, pe in enumerate(events):
            st = states[ml_state_key(pe)].state
            ev = pe.event
            t = pe.epoch
            count = st.get("n", 0)
            X[r, hist_col] = math.log1p(min(count, HISTORY_CAP))  # capped: stationary over time

            last_t = st.get("t")
            gap = FIRST_GAP_S if last_t is None else max(0.0, t - last_t)
            X[r, gap_col] = math.log1p(gap)
            rate = st.get("rate", 0.0) * (0.5 ** (gap / RATE_HALF_LIFE_S)) if last_t is not None else 0.0
            X[r, rate_col] = math.log1p(rate)

            a = amount[r]
            an, am, a2 = st.get("an", 0), st.get("am", 0.0), st.get("a2", 0.0)
            if has_amount[r]:
                la = math.log1p(a)
                if an >= 2:
                    std = math.sqrt(a2 / (an - 1)) if an > 1 else 0.0
                    X[r, z_col] = min(50.0, max(-10.0, (la - am) / max(std, 0.1)))
                an += 1
                delta = la - am
                am += delta / an
                a2 += delta * (la - am)

            h = hour[r]
            hx, hy = st.get("hx"), st.get("hy")
            ang = 2 * math.pi * h / 24.0
            cx, cy = math.cos(ang), math.sin(ang)
            if hx is not None and count >= 3:
                usual = (math.degrees(math.atan2(hy, hx)) / 15.0) % 24.0
                diff = abs(h - usual) % 24.0
                X[r, dev_col] = min(diff, 24.0 - diff)
            hx = cx if hx is None else (1 - HOUR_ALPHA) * hx + HOUR_ALPHA * cx
            hy = cy if hy is None else (1 - HOUR_ALPHA) * hy + HOUR_ALPHA * cy

            geo = ev.geoLocation
            lat, lon = st.get("lat"), st.get("lon")
            if geo is not None:
                if lat is not None:
                    X[r, dist_col] = math.log1p(_haversine(lat, lon, geo.latitude, geo.longitude))
                    llat, llon, lt = st.get("llat"), st.get("llon"), st.get("lt")
                    if llat is not None:
                        hours = max((t - lt) / 3600.0, 1.0 / 60.0)  # a minute at least: coarse clocks
                        X[r, speed_col] = math.log1p(_haversine(llat, llon, geo.latitude, geo.longitude) / hours)
                    lat = (1 - CENTROID_ALPHA) * lat + CENTROID_ALPHA * geo.latitude
                    lon = (1 - CENTROID_ALPHA) * lon + CENTROID_ALPHA * geo.longitude
                else:
                    lat, lon = geo.latitude, geo.longitude
                st["llat"], st["llon"], st["lt"] = geo.latitude, geo.longitude, t

            devices: list[str] = st.get("dev", [])
            changed = 0.0
            if pe.device is not None:
                last_dev = st.get("ld")
                if last_dev is not None and last_dev != pe.device:
                    changed = 1.0
                if devices and pe.device not in devices:
                    X[r, new_col] = 1.0
                if pe.device in devices:
                    devices.remove(pe.device)
                devices = [*devices, pe.device][-MAX_DEVICES:]
                st["ld"] = pe.device
            X[r, chg_col] = changed
            ua = _ua_tag(ev.userAgent)
            if ua is not None:
                if st.get("ua") is not None and st["ua"] != ua:
                    X[r, ua_col] = 1.0
                st["ua"] = ua

            # Sequence window: previous SEQ_LEN-1 steps from state, then this event.
            prev: list[list[float]] = st.get("seq", [])
            cur = [math.log1p(gap), 0.0, 0.0, 0.0, 0.0, 0.0, changed]
            cur[1 + int(type_codes[r])] = 1.0
            window = [*prev, cur][-SEQ_LEN:]
            offset = (SEQ_LEN - len(window)) * step  # left-pad short histories with zeros
            seq[r, offset:] = [v for step_values in window for v in step_values]
            # Timing regularity: scripted clients fire at near-constant intervals, people do not. On a log
            # scale (-log of the spread of log gaps), so near-constant timing lands far out in the tail
            # where the forest's uniform random splits isolate it quickly.
            spread = _spread([w[0] for w in window[-6:]]) if len(window) >= 4 else 3.0
            X[r, reg_col] = -math.log(min(spread, 3.0) + 0.01)

            st.update(n=count + 1, t=t, rate=rate + 1.0, an=an, am=am, a2=a2, hx=hx, hy=hy, dev=devices, seq=window)
            if lat is not None:
                st["lat"], st["lon"] = lat, lon
        return FeatureBatch(X, seq, rows)


def _spread(values: list[float]) -> float:
    """Population standard deviation (np.std's definition) without NumPy's per-call overhead."""
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


def _type_code(event_type: str) -> int:
    try:
        return EVENT_TYPES.index(event_type)
    except ValueError:
        return len(EVENT_TYPES)


def feature_dict(batch: FeatureBatch, row: int) -> dict[str, Any]:
    """One row as {feature: value}: what training exports and what explanations quote."""
    return {name: float(batch.X[row, i]) for i, name in enumerate(FEATURES)}
