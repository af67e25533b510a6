"""A labelled synthetic stream: people, their devices and habits, service metrics, and injected anomalies.

Clean traffic is built to contain the hard negatives a real stream has: occasional large-but-normal
purchases, people flying (domestic and, rarely, abroad for the first time), new phones, API power
users close to the velocity limit, shared household IPs, every geoLocation form (coordinates,
country code, AWS region for server-side API calls), metrics with daily cycles, drift, heavy-tailed
noise and collection gaps. After a warm-up, anomalies of all five types are injected; their event
ids go to a separate label list (never into the events the detector reads).

Everything is drawn from one `random.Random(seed)`: the same seed gives the same stream.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from anomaly_guardian.geo import haversine_km

START = datetime(2026, 3, 2, tzinfo=UTC).timestamp()

# name, lat, lon, country, weight
CITIES: tuple[tuple[str, float, float, str, float], ...] = (
    ("New York", 40.71, -74.01, "US", 8),
    ("Los Angeles", 34.05, -118.24, "US", 6),
    ("Chicago", 41.88, -87.63, "US", 4),
    ("Houston", 29.76, -95.37, "US", 3),
    ("Seattle", 47.61, -122.33, "US", 2),
    ("Miami", 25.76, -80.19, "US", 2),
    ("Toronto", 43.65, -79.38, "CA", 3),
    ("Vancouver", 49.28, -123.12, "CA", 1),
    ("Mexico City", 19.43, -99.13, "MX", 2),
    ("Sao Paulo", -23.55, -46.63, "BR", 3),
    ("Rio de Janeiro", -22.91, -43.17, "BR", 1),
    ("Buenos Aires", -34.60, -58.38, "AR", 1),
    ("London", 51.51, -0.13, "GB", 6),
    ("Manchester", 53.48, -2.24, "GB", 1),
    ("Paris", 48.86, 2.35, "FR", 4),
    ("Lyon", 45.76, 4.84, "FR", 1),
    ("Berlin", 52.52, 13.40, "DE", 3),
    ("Munich", 48.14, 11.58, "DE", 2),
    ("Madrid", 40.42, -3.70, "ES", 2),
    ("Rome", 41.90, 12.50, "IT", 2),
    ("Amsterdam", 52.37, 4.90, "NL", 2),
    ("Stockholm", 59.33, 18.07, "SE", 1),
    ("Warsaw", 52.23, 21.01, "PL", 1),
    ("Dublin", 53.35, -6.26, "IE", 1),
    ("Lagos", 6.52, 3.38, "NG", 1),
    ("Nairobi", -1.29, 36.82, "KE", 1),
    ("Johannesburg", -26.20, 28.05, "ZA", 1),
    ("Cairo", 30.04, 31.24, "EG", 1),
    ("Dubai", 25.20, 55.27, "AE", 1),
    ("Mumbai", 19.08, 72.88, "IN", 3),
    ("Delhi", 28.61, 77.21, "IN", 2),
    ("Bangalore", 12.97, 77.59, "IN", 2),
    ("Singapore", 1.35, 103.82, "SG", 2),
    ("Tokyo", 35.68, 139.69, "JP", 4),
    ("Osaka", 34.69, 135.50, "JP", 1),
    ("Seoul", 37.57, 126.98, "KR", 2),
    ("Sydney", -33.87, 151.21, "AU", 2),
    ("Perth", -31.95, 115.86, "AU", 1),
    ("Melbourne", -37.81, 144.96, "AU", 1),
    ("Jakarta", -6.21, 106.85, "ID", 1),
)
REGION_OF = {
    "US": "us-east-1",
    "CA": "ca-central-1",
    "BR": "sa-east-1",
    "GB": "eu-west-2",
    "FR": "eu-west-3",
    "DE": "eu-central-1",
    "IE": "eu-west-1",
    "IN": "ap-south-1",
    "JP": "ap-northeast-1",
    "SG": "ap-southeast-1",
    "AU": "ap-southeast-2",
    "KR": "ap-northeast-2",
}
BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",  # noqa: E501
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",  # noqa: E501
    "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",  # noqa: E501
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.7 Mobile/15E148",
)
SDK_AGENTS = ("acme-sdk-python/2.4.1 python-requests/2.32.3", "acme-sdk-go/1.9.0 Go-http-client/2.0", "okhttp/4.12.0")
BOT_AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
    "python-requests/2.32.3",
    "curl/8.5.0",
    "Scrapy/2.11.2 (+https://scrapy.org)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Selenium/4.20",
    "Mozilla/5.0 (compatible; PriceSpyBot/1.2; +http://example.net/bot)",
)
PAGES = tuple([f"/products/{i}" for i in range(300)] + ["/", "/cart", "/checkout", "/account", "/search", "/orders"])
TYPES = ("velocity", "value", "geolocation", "behavioral", "system")
# service, metric, base, daily amplitude (fraction), noise kind
SERIES = (
    ("checkout", "latency_ms", 120.0, 0.25, "lognormal"),
    ("checkout", "requests", 800.0, 0.5, "poisson"),
    ("payments", "cpu_percent", 35.0, 0.4, "student"),
    ("payments", "errors", 4.0, 0.5, "poisson"),
)


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Population:
    """How the generated people behave: `make eval` runs several, so no figure rests on one population.

    page_gap_sigma: log-spread of the gaps between page views (0.9 default; lower = more regular browsing,
    the hard case for the timing-regularity rule); spend_median/spend_spread: the typical user's median
    amount and how much users differ (heavy or light spenders); session_rate: sessions per user and day
    (sparse or dense histories)."""

    name: str = "default"
    page_gap_sigma: float = 0.9
    spend_median: float = 50.0
    spend_spread: float = 0.9
    session_rate: float = 1.2


POPULATIONS: dict[str, Population] = {
    p.name: p
    for p in (
        Population(),
        Population("regular-browsing", page_gap_sigma=0.35),
        Population("irregular-browsing", page_gap_sigma=1.4),
        Population("heavy-spenders", spend_median=400.0, spend_spread=0.7),
        Population("light-spenders", spend_median=12.0, spend_spread=0.6),
        Population("sparse-history", session_rate=0.35),
        Population("dense-history", session_rate=4.0),
    )
}


@dataclass
class User:
    uid: str
    city: tuple
    median: float
    sigma: float
    devices: list[tuple[str, str]]  # (deviceId, userAgent)
    ip: str
    geo_style: str  # "coords", "country", "none"
    rate: float  # sessions per day
    power: bool = False
    events: list[dict] = field(default_factory=list)
    countries: set[str] = field(default_factory=set)


@dataclass
class Scenario:
    events: list[dict[str, Any]]
    labels: list[dict[str, Any]]  # {"eventId", "label", "episode"}
    stats: dict[str, Any]


class Generator:
    def __init__(self, n_events: int = 60_000, seed: int = 7, population: Population | None = None):
        self.population = population or Population()
        self.n_events = n_events
        self.rng = random.Random(seed)
        self.seed = seed
        self.span = 86400.0 * min(4.0, max(0.25, n_events / 30_000))
        self.warmup = START + 0.4 * self.span
        self.end = START + self.span
        self.counter = 0
        self.labels: list[dict] = []
        self.hard: dict[str, int] = {}

    # ---- helpers
    def _id(self) -> str:
        self.counter += 1
        return f"evt-{self.seed}-{self.counter:07d}"

    def _ip(self) -> str:
        r = self.rng
        first = r.choice((23, 31, 45, 62, 81, 92, 103, 151, 176, 185))
        return f"{first}.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}"

    def _geo(self, user: User, city: tuple, server: bool = False) -> Any:
        if server:
            return REGION_OF.get(city[3], city[3])
        if user.geo_style == "coords":
            r = self.rng
            return {
                "latitude": round(city[1] + r.gauss(0, 0.03), 4),
                "longitude": round(city[2] + r.gauss(0, 0.03), 4),
                "country": city[3],
                "city": city[0],
            }
        if user.geo_style == "country":
            return city[3]
        return None

    def _label(self, events: list[dict], kind: str, episode: int) -> None:
        for ev in events:
            self.labels.append({"eventId": ev["eventId"], "label": kind, "episode": f"{kind}-{episode:04d}"})

    def _diurnal_start(self, user: User, day: float) -> float:
        """A session start in the user's local day: peaks at lunch and evening, quiet at night."""
        r = self.rng
        hour = r.choice((r.gauss(12.5, 1.5), r.gauss(20, 1.8), r.gauss(20, 1.8), r.uniform(7, 23)))
        tz = round(user.city[2] / 15.0)
        return day + ((hour - tz) % 24) * 3600.0

    # ---- population
    def make_users(self, count: int, offset: int = 0) -> list[User]:
        r = self.rng
        weights = [c[4] for c in CITIES]
        users = []
        household_ip = None
        for i in range(offset, offset + count):
            city = r.choices(CITIES, weights)[0]
            n_dev = 1 if r.random() < 0.6 else 2
            devices = [(f"dev-{self.seed}-{i}-{k}", r.choice(BROWSERS)) for k in range(n_dev)]
            if household_ip and r.random() < 0.25:
                ip = household_ip  # a second person behind the same home router
            else:
                ip = household_ip = self._ip()
            style = r.choices(("coords", "country", "none"), (0.7, 0.2, 0.1))[0]
            users.append(
                User(
                    uid=f"user-{i:05d}",
                    city=city,
                    median=math.exp(r.gauss(math.log(self.population.spend_median), self.population.spend_spread)),
                    sigma=r.uniform(0.35, 0.8),
                    devices=devices,
                    ip=ip,
                    geo_style=style,
                    rate=math.exp(r.gauss(math.log(self.population.session_rate), 0.6)),
                    power=r.random() < 0.015,
                )
            )
        return users

    def amount(self, user: User) -> float:
        r = self.rng
        if r.random() < 0.03:  # a large but normal purchase: 1.5-2.5 of the user's own sigmas up
            self.hard["large_purchase"] = self.hard.get("large_purchase", 0) + 1
            x = user.median * math.exp(r.uniform(1.5, 2.5) * user.sigma)
        else:
            x = user.median * math.exp(r.gauss(0, user.sigma))
        return round(min(x, 4900.0), 2)

    def user_events(self, user: User) -> None:
        r = self.rng
        trip = None
        if user.geo_style != "none" and r.random() < 0.06:
            # A trip by plane: depart after warm-up-ish, fly at plausible door-to-door speed.
            abroad = r.random() < 0.08
            options = [
                c
                for c in CITIES
                if (c[3] != user.city[3]) == abroad
                and c != user.city
                and haversine_km(c[1], c[2], user.city[1], user.city[2]) > 600
            ]
            if options:
                dest = r.choice(options)
                dist = haversine_km(dest[1], dest[2], user.city[1], user.city[2])
                depart = r.uniform(START + 0.2 * self.span, self.end - 0.2 * self.span)
                arrive = depart + (dist / 800.0 + r.uniform(1.5, 4.0)) * 3600.0
                trip = (depart, arrive, dest)
                self.hard["trip_abroad" if abroad else "trip_domestic"] = (
                    self.hard.get("trip_abroad" if abroad else "trip_domestic", 0) + 1
                )
        new_device_at = r.uniform(START, self.end) if r.random() < 0.03 else None
        day = START - 86400.0
        while day < self.end:
            for _ in range(self._poisson(user.rate)):
                start = self._diurnal_start(user, day)
                if START <= start < self.end:
                    self.session(user, start, trip, new_device_at)
            day += 86400.0

    def session(self, user: User, t: float, trip, new_device_at) -> None:
        r = self.rng
        city = user.city
        if trip and trip[0] <= t < trip[1]:
            return  # in the air
        if trip and t >= trip[1]:
            city = trip[2]
        device, ua = r.choice(user.devices)
        if new_device_at and t >= new_device_at:
            device, ua = f"{device}-new", BROWSERS[(BROWSERS.index(ua) + 1) % len(BROWSERS)] if ua in BROWSERS else ua
            if not getattr(user, "_counted_new", False):
                self.hard["new_device"] = self.hard.get("new_device", 0) + 1
                user._counted_new = True  # type: ignore[attr-defined]
        sid = f"s-{self._id()}"
        ip = user.ip if city == user.city else self._ip()
        geo = self._geo(user, city)
        base = {"userId": user.uid, "deviceId": device, "userAgent": ua, "ipAddress": ip, "sessionId": sid}
        if geo is not None:
            base["geoLocation"] = geo
            user.countries.add(city[3])
        out = [{"eventType": "login", "t": t}]
        if user.power and r.random() < 0.7:
            # API power user: a batch job of 40-90 calls within a few minutes (close to the limit).
            n = r.randint(40, 90)
            span = r.uniform(150, 600)
            tt = t
            for _ in range(n):
                tt += r.expovariate(n / span)
                out.append(
                    {
                        "eventType": "api_request",
                        "t": tt,
                        "requestsPerSecond": round(r.uniform(1, 30), 1),
                        "userAgent": r.choice(SDK_AGENTS),
                        "geoLocation": self._geo(user, city, server=True),
                    }
                )
            self.hard["power_batch"] = self.hard.get("power_batch", 0) + 1
        else:
            tt = t
            for _ in range(r.randint(1, 10)):
                tt += r.lognormvariate(math.log(25), self.population.page_gap_sigma)
                page = (
                    PAGES[min(int(r.paretovariate(1.2)) - 1, len(PAGES) - 1)] if r.random() < 0.7 else r.choice(PAGES)
                )
                out.append({"eventType": "pageview", "t": tt, "metadata": {"page": page}})
            if r.random() < 0.6:
                tt += r.lognormvariate(math.log(40), 0.7)
                out.append({"eventType": "transaction", "t": tt, "transactionAmount": self.amount(user)})
        out[-1]["sessionLength"] = round(out[-1]["t"] - t, 1)
        for ev in out:
            e = dict(base)
            e.update(ev)
            e["eventId"] = self._id()
            user.events.append(e)

    def _poisson(self, lam: float) -> int:
        r = self.rng
        k, p, limit = 0, 1.0, math.exp(-lam)
        while True:
            p *= r.random()
            if p < limit:
                return k
            k += 1

    # ---- metrics
    def metrics(self) -> tuple[list[dict], dict[int, list[tuple[int, int]]]]:
        """Per-minute series with daily cycle, drift, heavy-tailed noise and gaps; returns events and
        the minutes reserved for injected episodes per series."""
        r = self.rng
        minutes = int(self.span // 60)
        out = []
        self.series_values: list[list[dict | None]] = []
        for service, metric, base, amp, noise in SERIES:
            values: list[dict | None] = []
            gaps = set()
            for _ in range(max(1, minutes // 1500)):  # collection outages: no points at all
                g0 = r.randrange(minutes)
                gaps.update(range(g0, g0 + r.randint(5, 40)))
            drift = r.uniform(-0.05, 0.15)
            for m in range(minutes):
                t = START + m * 60.0 + r.uniform(0, 2)
                if m in gaps:
                    values.append(None)
                    continue
                cycle = 1.0 + amp * math.sin(2 * math.pi * ((t / 86400.0) % 1.0) - 1.3)
                level = base * cycle * (1.0 + drift * (m / 1440.0))
                if noise == "poisson":
                    v = float(self._poisson_large(level))
                elif noise == "lognormal":
                    v = level * math.exp(0.06 * r.gauss(0, 1) if r.random() > 0.01 else 0.06 * r.gauss(0, 4))
                else:
                    df = 3.0
                    tdist = r.gauss(0, 1) / math.sqrt(r.gammavariate(df / 2, 2 / df))
                    v = min(100.0, max(0.0, level + 2.0 * tdist))
                ev = {
                    "eventId": self._id(),
                    "userId": "system",
                    "timestamp": t,
                    "eventType": "metric",
                    "service": service,
                    "metricName": metric,
                    "metricValue": round(v, 3),
                }
                values.append(ev)
                out.append(ev)
            self.series_values.append(values)
            self.hard["metric_gap_minutes"] = self.hard.get("metric_gap_minutes", 0) + len(gaps)
        return out, {}

    def _poisson_large(self, lam: float) -> int:
        if lam < 30:
            return self._poisson(lam)
        return max(0, round(self.rng.gauss(lam, math.sqrt(lam))))

    # ---- injections
    def inject_system(self, count: int) -> None:
        r = self.rng
        minutes = int(self.span // 60)
        first = int((self.warmup - START) // 60)
        busy: list[list[tuple[int, int]]] = [[] for _ in SERIES]
        made = 0
        attempts = 0
        while made < count and attempts < count * 50:
            attempts += 1
            s = r.randrange(len(SERIES))
            dur = r.randint(5, 25)
            m0 = r.randrange(first, minutes - dur - 1)
            if any(m0 < b1 + 45 and m0 + dur + 45 > b0 for b0, b1 in busy[s]):
                continue
            points = [ev for ev in self.series_values[s][m0 : m0 + dur] if ev is not None]
            if len(points) < 4:
                continue
            busy[s].append((m0, m0 + dur))
            kind = r.choice(("shift_up", "shift_up", "drop", "spikes"))
            metric = SERIES[s][1]
            for ev in points:
                v = ev["metricValue"]
                if metric == "cpu_percent":
                    v = min(100.0, v + r.uniform(25, 45)) if kind != "drop" else max(0.0, v * 0.15)
                elif kind == "shift_up":
                    v = v * r.uniform(2.2, 3.5) + (8 if metric == "errors" else 0)
                elif kind == "drop":
                    v = v * r.uniform(0.0, 0.25) if metric != "errors" else v + r.uniform(15, 30)
                else:
                    v = v * r.uniform(2.5, 6.0) + (10 if metric == "errors" else 0)
                ev["metricValue"] = round(v, 3)
            self._label(points, "system", made)
            made += 1

    def inject_value(self, users: list[User], count: int) -> list[dict]:
        r = self.rng
        out = []

        def prior(u: User) -> int:
            return sum(1 for e in u.events if "transactionAmount" in e and e["t"] < self.warmup)

        # Judged against history: prefer users with >= 3 earlier transactions (small streams: fewer).
        candidates = [u for u in users if prior(u) >= 3] or [u for u in users if prior(u) >= 1] or users
        # One injected fraud per user while there are enough candidates (a second one would be judged
        # against a profile that already saw the first).
        if len(candidates) >= count:
            picks = r.sample(candidates, count)
        else:
            picks = [r.choice(candidates) for _ in range(count)]
        for k, u in enumerate(picks):
            t = r.uniform(self.warmup, self.end)
            device, ua = u.devices[0]
            if r.random() < 0.25:
                amount = round(r.uniform(5200, 20000), 2)  # the absolute rule
            else:
                amount = round(max(u.median * r.uniform(40, 150), 600.0), 2)
            ev = {
                "eventId": self._id(),
                "userId": u.uid,
                "eventType": "transaction",
                "t": t,
                "transactionAmount": amount,
                "deviceId": device,
                "userAgent": ua,
                "ipAddress": u.ip,
                "sessionId": f"s-{self._id()}",
            }
            # Where the user is at that moment (a traveller's fraud happens where they are).
            earlier = [e for e in u.events if e["t"] <= t and "geoLocation" in e]
            geo = earlier[-1]["geoLocation"] if earlier else self._geo(u, u.city)
            if geo is not None:
                ev["geoLocation"] = geo
            out.append(ev)
            self._label([ev], "value", k)
        return out

    def inject_geo(self, users: list[User], count: int) -> list[dict]:
        r = self.rng
        out = []
        located = [u for u in users if u.geo_style == "coords" and len(u.events) >= 8]
        k = 0
        used: set[str] = set()
        while k < count:
            u = r.choice(located)
            if u.uid in used and len(used) < len(located):
                continue  # one takeover per account: a second one would hide behind the first
            used.add(u.uid)
            before = [e for e in u.events if "geoLocation" in e and self.warmup <= e["t"]]
            if not before:
                continue
            anchor = r.choice(before)
            home_lat, home_lon = u.city[1], u.city[2]
            far = [c for c in CITIES if haversine_km(c[1], c[2], home_lat, home_lon) > 3000]
            city = r.choice(far)
            t = anchor["t"] + r.uniform(5, 90) * 60.0
            sid = f"s-{self._id()}"
            ip = self._ip()
            device = f"atk-{self.seed}-{k}"
            ua = r.choice(BROWSERS)
            episode = []
            for j in range(r.randint(1, 3)):
                episode.append(
                    {
                        "eventId": self._id(),
                        "userId": u.uid,
                        "eventType": "login" if j == 0 else "pageview",
                        "t": t + 40.0 * j,
                        "deviceId": device,
                        "userAgent": ua,
                        "ipAddress": ip,
                        "sessionId": sid,
                        "geoLocation": self._geo(u, city),
                        **({"metadata": {"page": "/account"}} if j else {}),
                    }
                )
            out.extend(episode)
            self._label(episode, "geolocation", k)
            k += 1
        return out

    def inject_behavioral(self, users: list[User], count: int) -> list[dict]:
        r = self.rng
        out = []
        for k in range(count):
            takeover = r.random() < 0.5
            uid = r.choice(users).uid if takeover else f"bot-{self.seed}-{k}"
            t = r.uniform(self.warmup, self.end)
            step = r.uniform(1.5, 8.0)
            ua = r.choice(BOT_AGENTS) if r.random() < 0.5 else r.choice(BROWSERS)
            base = {
                "userId": uid,
                "deviceId": f"bot-dev-{self.seed}-{k}",
                "userAgent": ua,
                "ipAddress": self._ip(),
                "sessionId": f"s-{self._id()}",
            }
            n = r.randint(12, 30)
            offset = r.randrange(300)
            episode = [dict(base, eventId=self._id(), eventType="login", t=t)]
            for j in range(n):
                t += step * r.uniform(0.92, 1.08)
                episode.append(
                    dict(
                        base,
                        eventId=self._id(),
                        eventType="pageview",
                        t=t,
                        metadata={"page": f"/products/{(offset + j) % 300}"},
                    )
                )
            out.extend(episode)
            self._label(episode, "behavioral", k)
        return out

    def inject_velocity(self, users: list[User], count: int) -> list[dict]:
        r = self.rng
        out = []
        for k in range(count):
            t = r.uniform(self.warmup, self.end)
            kind = k % 3
            if kind == 0:  # reported request rate
                u = r.choice(users)
                device = u.devices[0][0]
                episode = [
                    {
                        "eventId": self._id(),
                        "userId": u.uid,
                        "eventType": "api_request",
                        "t": t,
                        "requestsPerSecond": round(r.uniform(80, 2000), 1),
                        "ipAddress": u.ip,
                        "deviceId": device,
                        "userAgent": r.choice(SDK_AGENTS),
                    }
                ]
            elif kind == 1:  # one account hammering the API
                u = r.choice(users)
                device, _ua = u.devices[0]
                n = r.randint(105, 140)
                span = r.uniform(60, 240)
                sid = f"s-{self._id()}"
                episode = []
                for _ in range(n):
                    t += r.expovariate(n / span)
                    episode.append(
                        {
                            "eventId": self._id(),
                            "userId": u.uid,
                            "eventType": "api_request",
                            "t": t,
                            "ipAddress": u.ip,
                            "deviceId": device,
                            "userAgent": r.choice(SDK_AGENTS),
                            "sessionId": sid,
                            "requestsPerSecond": round(r.uniform(1, 30), 1),
                        }
                    )
            else:  # credential stuffing: one IP, many accounts
                ip = self._ip()
                n = r.randint(105, 140)
                span = r.uniform(60, 240)
                episode = []
                for j in range(n):
                    t += r.expovariate(n / span)
                    episode.append(
                        {
                            "eventId": self._id(),
                            "userId": f"victim-{self.seed}-{k}-{j}",
                            "eventType": "login",
                            "t": t,
                            "ipAddress": ip,
                            "userAgent": r.choice(BROWSERS),
                        }
                    )
            out.extend(episode)
            self._label(episode, "velocity", k)
        return out

    # ---- all together
    def run(self) -> Scenario:
        per_type = max(5, self.n_events // 1000)
        metric_events, _ = self.metrics()
        self.inject_system(per_type)
        injected_budget = per_type * (1 + 3 + 21 + 80 + 0)  # value, geo, behavioral, velocity (mean sizes)
        target_user_events = max(200, self.n_events - len(metric_events) - injected_budget)
        users: list[User] = []
        total = 0
        while total < target_user_events:
            batch = self.make_users_more(users, 200)
            for u in batch:
                self.user_events(u)
                total += len(u.events)
                if total >= target_user_events:
                    break
        injected = (
            self.inject_value(users, per_type)
            + self.inject_geo(users, per_type)
            + self.inject_behavioral(users, per_type)
            + self.inject_velocity(users, per_type)
        )
        events = [e for u in users for e in u.events] + injected
        for e in events:
            e["timestamp"] = e.pop("t")
        events.extend(metric_events)
        events.sort(key=lambda e: e["timestamp"])
        for e in events:
            e["timestamp"] = iso(e["timestamp"])
            if e.get("geoLocation") is None:
                e.pop("geoLocation", None)
        stats = {
            "users": len(users),
            "events": len(events),
            "metricEvents": len(metric_events),
            "labelledEvents": len(self.labels),
            "hardNegatives": dict(sorted(self.hard.items())),
            "episodesPerType": per_type,
            "span_hours": self.span / 3600,
            "warmup_hours": (self.warmup - START) / 3600,
        }
        return Scenario(events, self.labels, stats)

    def make_users_more(self, users: list[User], count: int) -> list[User]:
        batch = self.make_users(count, offset=len(users))
        users.extend(batch)
        return batch


def generate(n_events: int = 60_000, seed: int = 7, population: Population | None = None) -> Scenario:
    return Generator(n_events, seed, population).run()
