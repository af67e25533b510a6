"""A small labelled event stream for training and measuring the models when no history exists.

`guardian generate` (anomaly_guardian.scenario) is the project's scenario generator; this module
is the ML fallback used by `make train` when that is not installed, and by the unit tests. Users
have a home location, usual hours, one or two devices and an amount profile; injected behavioural
anomalies stay under the statistical detectors' thresholds on purpose (account takeover below the
absolute amount limit, scripted sessions below the velocity limit, card testing, odd-hour use of a
new device), because that is where a model has to earn its keep.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

HOMES = [
    ("DE", 51.2, 10.4),
    ("FR", 46.6, 2.2),
    ("GB", 54.0, -2.5),
    ("US", 39.8, -98.6),
    ("ES", 40.2, -3.6),
    ("IT", 42.8, 12.6),
    ("NL", 52.2, 5.3),
    ("SE", 62.0, 15.0),
    ("PL", 52.1, 19.4),
    ("CA", 56.1, -106.3),
]
FAR = [("BR", -10.8, -52.9), ("NG", 9.1, 8.7), ("VN", 16.1, 107.9), ("RU", 61.5, 105.3), ("ID", -2.5, 118.0)]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0",
    "Mozilla/5.0 (Macintosh) Safari/17.4",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4) Mobile Safari",
    "Mozilla/5.0 (Linux; Android 14) Chrome/125.0",
]
BEHAVIOURAL = ("account_takeover", "scripted_session", "card_testing", "odd_hour_new_device")


@dataclass(slots=True)
class User:
    uid: str
    country: str
    lat: float
    lon: float
    devices: list[str]
    agent: str
    hour_center: float  # UTC hour around which the user is active
    amount_mu: float


def _ts(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _make_user(rng: random.Random, i: int) -> User:
    country, lat, lon = rng.choice(HOMES)
    offset = -6.0 if country in ("US", "CA") else 1.0
    return User(
        uid=f"user-{i:05d}",
        country=country,
        lat=lat + rng.uniform(-1, 1),
        lon=lon + rng.uniform(-1, 1),
        devices=[f"dev-{i}-{k}" for k in range(rng.choice((1, 1, 2)))],
        agent=rng.choice(AGENTS),
        hour_center=(rng.uniform(10, 20) - offset) % 24,
        amount_mu=rng.uniform(2.5, 5.0),
    )


class Generator:
    """Deterministic for a seed. `events()` yields (event dict, label or None) in time order."""

    def __init__(
        self, users: int = 400, days: int = 14, seed: int = 7, anomaly_rate: float = 0.02, start: datetime | None = None
    ):
        self.rng = random.Random(seed)
        self.users = [_make_user(self.rng, i) for i in range(users)]
        self.days = days
        self.anomaly_rate = anomaly_rate
        self.start = start or datetime(2026, 1, 5, tzinfo=UTC)
        self._n = 0

    def _event(self, u: User, t: datetime, etype: str, **fields: Any) -> dict[str, Any]:
        self._n += 1
        ev = {
            "eventId": f"e{self._n:08d}",
            "userId": u.uid,
            "timestamp": _ts(t),
            "eventType": etype,
            "sessionId": fields.pop("sessionId", None),
            "deviceId": fields.pop("deviceId", u.devices[0]),
            "userAgent": fields.pop("userAgent", u.agent),
            "ipAddress": fields.pop("ipAddress", "198.51.100.7"),
            "geoLocation": fields.pop("geoLocation", {"latitude": round(u.lat, 3), "longitude": round(u.lon, 3)}),
        }
        ev.update(fields)
        return {k: v for k, v in ev.items() if v is not None}

    def _normal_session(self, u: User, t: datetime) -> list[dict[str, Any]]:
        rng = self.rng
        sid = f"s{self._n}"
        dev = rng.choice(u.devices)
        out = [self._event(u, t, "login", sessionId=sid, deviceId=dev, sessionLength=0.0)]
        for _ in range(rng.randint(1, 6)):
            t += timedelta(seconds=rng.expovariate(1 / 40.0) + 2)
            out.append(
                self._event(
                    u,
                    t,
                    rng.choice(("pageview", "pageview", "api_request")),
                    sessionId=sid,
                    deviceId=dev,
                    requestsPerSecond=round(rng.uniform(0.1, 2.0), 2),
                    sessionLength=round(rng.uniform(5, 600), 1),
                )
            )
        if rng.random() < 0.6:
            t += timedelta(seconds=rng.expovariate(1 / 60.0) + 5)
            amount = round(min(4000.0, rng.lognormvariate(u.amount_mu, 0.6)), 2)
            out.append(
                self._event(
                    u,
                    t,
                    "transaction",
                    sessionId=sid,
                    deviceId=dev,
                    transactionAmount=amount,
                    sessionLength=round(rng.uniform(30, 900), 1),
                )
            )
        return out

    def _anomaly(self, u: User, t: datetime, kind: str) -> list[dict[str, Any]]:
        rng = self.rng
        sid = f"x{self._n}"
        if kind == "account_takeover":
            _country, lat, lon = rng.choice(FAR)
            dev, agent = f"dev-ato-{self._n}", rng.choice(AGENTS)
            geo = {"latitude": lat, "longitude": lon}
            t = t.replace(hour=int((u.hour_center + 12) % 24))
            out = [
                self._event(
                    u, t, "login", sessionId=sid, deviceId=dev, userAgent=agent, geoLocation=geo, sessionLength=0.0
                )
            ]
            t += timedelta(seconds=rng.uniform(5, 20))
            amount = round(min(4900.0, rng.lognormvariate(u.amount_mu, 0.3) * rng.uniform(4, 10)), 2)
            out.append(
                self._event(
                    u,
                    t,
                    "transaction",
                    sessionId=sid,
                    deviceId=dev,
                    userAgent=agent,
                    geoLocation=geo,
                    transactionAmount=amount,
                    sessionLength=round(rng.uniform(10, 40), 1),
                )
            )
            return out
        if kind == "scripted_session":
            out = []
            for k in range(rng.randint(12, 25)):
                t += timedelta(seconds=1.0 + rng.uniform(-0.02, 0.02))
                out.append(
                    self._event(
                        u,
                        t,
                        "api_request",
                        sessionId=sid,
                        userAgent="python-requests/2.32",
                        requestsPerSecond=round(rng.uniform(8, 30), 1),
                        sessionLength=float(k + 1),
                    )
                )
            return out
        if kind == "card_testing":
            out = []
            for _ in range(rng.randint(6, 12)):
                t += timedelta(seconds=rng.uniform(3, 12))
                out.append(
                    self._event(
                        u,
                        t,
                        "transaction",
                        sessionId=sid,
                        transactionAmount=round(rng.uniform(0.5, 3), 2),
                        sessionLength=round(rng.uniform(2, 20), 1),
                    )
                )
            return out
        # odd_hour_new_device
        dev = f"dev-new-{self._n}"
        t = t.replace(hour=int((u.hour_center + 11) % 24))
        out = [self._event(u, t, "login", sessionId=sid, deviceId=dev, userAgent=rng.choice(AGENTS), sessionLength=0.0)]
        t += timedelta(seconds=rng.uniform(20, 90))
        out.append(
            self._event(
                u,
                t,
                "transaction",
                sessionId=sid,
                deviceId=dev,
                userAgent=out[0]["userAgent"],
                transactionAmount=round(rng.lognormvariate(u.amount_mu, 0.3) * 3, 2),
                sessionLength=round(rng.uniform(20, 100), 1),
            )
        )
        return out

    def events(self) -> Iterator[tuple[dict[str, Any], str | None]]:
        rng = self.rng
        stream: list[tuple[datetime, dict[str, Any], str | None]] = []
        for u in self.users:
            for day in range(self.days):
                base = self.start + timedelta(days=day)
                for _ in range(rng.choice((0, 1, 1, 2, 3))):
                    hour = (u.hour_center + rng.gauss(0, 1.5)) % 24
                    t = base + timedelta(hours=hour)
                    # The first days are a clean warm-up so every user has a history.
                    if day >= 3 and rng.random() < self.anomaly_rate:
                        kind = rng.choice(BEHAVIOURAL)
                        evs, label = self._anomaly(u, t, kind), kind
                    else:
                        evs, label = self._normal_session(u, t), None
                    for ev in evs:
                        stream.append((datetime.fromisoformat(ev["timestamp"].replace("Z", "+00:00")), ev, label))
        stream.sort(key=lambda item: item[0])
        for _t, ev, label in stream:
            yield ev, label
