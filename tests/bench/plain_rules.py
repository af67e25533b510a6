"""The seed's rules, plainly: the baseline `make bench` prints beside `guardian replay` (issue 16).

One pass over a JSON-lines file, no validation model, no state store, no scoring: velocity (> 100
requests per user or per IP in a sliding 5 minutes), value (z > 3 against the user's running mean/std
after 5 transactions, or > $5,000), impossible travel (> 900 km/h between a user's consecutive
located events) and system 3-sigma limits per service and metric (after 30 points). It is what "the
simplest thing that works" costs; it makes no claim to the detector's precision.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict, deque
from datetime import datetime


def run(path: str) -> int:
    windows: dict[str, deque] = defaultdict(deque)
    stats: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])  # n, mean, M2 (Welford)
    last_at: dict[str, tuple[float, float, float]] = {}
    alerts = 0
    with open(path, "rb") as fh:
        for line in fh:
            e = json.loads(line)
            t = datetime.fromisoformat(e["timestamp"]).timestamp()
            if e.get("eventType") == "metric":
                key, x = f"{e.get('service')}/{e.get('metricName')}", float(e.get("metricValue", 0.0))
                alerts += _zscore(stats[key], x, 3.0, 30)
                continue
            for key in (f"u:{e.get('userId')}", f"ip:{e.get('ipAddress')}"):
                w = windows[key]
                w.append(t)
                while w[0] < t - 300.0:
                    w.popleft()
                alerts += len(w) == 101  # crossing the threshold once per burst
            amount = e.get("transactionAmount")
            if amount is not None:
                alerts += float(amount) > 5000.0 or _zscore(stats["v:" + e["userId"]], float(amount), 3.0, 5)
            geo = e.get("geoLocation")
            if isinstance(geo, dict) and "latitude" in geo:
                lat, lon = math.radians(geo["latitude"]), math.radians(geo["longitude"])
                prev = last_at.get(e["userId"])
                if prev is not None and t > prev[0]:
                    a = (
                        math.sin((lat - prev[1]) / 2) ** 2
                        + math.cos(lat) * math.cos(prev[1]) * math.sin((lon - prev[2]) / 2) ** 2
                    )
                    km = 12742.0 * math.asin(math.sqrt(min(1.0, a)))
                    alerts += km / ((t - prev[0]) / 3600.0) > 900.0
                last_at[e["userId"]] = (t, lat, lon)
    return alerts


def _zscore(s: list[float], x: float, k: float, warmup: int) -> bool:
    n, mean, m2 = s
    hit = n >= warmup and m2 > 0 and abs(x - mean) / math.sqrt(m2 / (n - 1)) > k
    n += 1
    delta = x - mean
    mean += delta / n
    s[0], s[1], s[2] = n, mean, m2 + delta * (x - mean)
    return hit
