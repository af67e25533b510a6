"""Behavioral: does this session look like a person, and like this person?

Signals per session (a run of events with one sessionId, or separated by less than the session gap):
- automation signature in the user agent (headless browsers, Selenium, curl, python-requests, bots)
  on anything but api_request events (API clients are scripts by design);
- timing regularity: the coefficient of variation (CV) of gaps between interactive events
  (pageview/login). People are bursty (CV near 1); scripts tick (CV well under 0.2). Regular timing
  only counts at machine pace (mean gap < 15 s) or with near-total page diversity (a crawler), so an
  auto-refreshing dashboard tab is not a bot;
- page rate: distinct pages per minute above what a person reads;
- a new device or new user agent for a user with history (weak on their own: people buy phones).
Signals combine as a noisy-or; a session raises at most one behavioral anomaly. This is the
statistical scorer; the session model (detection/model.py) can replace the weights later.
State keeps small hashes (CRC32) of pages and user agents, and pseudonymised device ids, never raw values.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Iterable
from functools import lru_cache

from anomaly_guardian.config import DetectionConfig
from anomaly_guardian.detection.base import Finding, PreparedEvent
from anomaly_guardian.models.anomaly import AnomalyType, Explanation
from anomaly_guardian.state.store import StateItem

KIND = "behav"
INTERACTIVE = frozenset({"pageview", "login"})
AUTOMATION = re.compile(
    r"headless|selenium|webdriver|phantomjs|puppeteer|playwright|\bcurl/|wget/|python-requests|python-urllib|"
    r"aiohttp|httpx|go-http-client|java/|okhttp|libwww-perl|scrapy|\bbot\b|bot/|crawler|spider|httpclient",
    re.IGNORECASE,
)
MAX_PAGES = 64
W_AUTOMATION = 0.9
W_NEW_DEVICE = 0.3
W_NEW_AGENT = 0.3
MIN_HISTORY = 5  # events before "new device / agent" means anything
MACHINE_PACE_S = 15.0


@lru_cache(maxsize=4096)
def automation_signature(user_agent: str) -> str | None:
    match = AUTOMATION.search(user_agent)
    return match.group(0).lower() if match else None


@lru_cache(maxsize=4096)
def _tag(value: str) -> int:
    return zlib.crc32(value.encode())


class BehavioralDetector:
    name = "behavioral"

    def __init__(self) -> None:
        # Timing regularity of every session when it first becomes judgeable (`min_intervals` gaps): the
        # pipeline drains it into the tenant's calibration histogram (detection.calibration).
        # Likewise the distinct-page rate of every session when it first has `min_intervals` distinct pages.
        self.observed: dict[str, list[float]] = {"session_cv": [], "session_page_rate": []}

    def state_keys(self, ev: PreparedEvent) -> Iterable[str]:
        if ev.event.eventType == "metric":
            return ()
        return (f"{ev.tenant}#{KIND}#{ev.user}",)

    def detect(self, ev: PreparedEvent, states: dict[str, StateItem], config: DetectionConfig) -> list[Finding]:
        e = ev.event
        if e.eventType == "metric":
            return []
        cfg = config.behavioral
        st = states[f"{ev.tenant}#{KIND}#{ev.user}"].state
        t = ev.epoch
        history = st.get("n", 0)
        st["n"] = history + 1
        sid = _tag(e.sessionId) if e.sessionId else None
        last = st.get("lt")
        if last is None or sid != st.get("sid") or (sid is None and t - last > cfg.session_gap_seconds):
            # New session.
            st.update(sid=sid, st=t, lt=t, it=None, k=0, s1=0.0, s2=0.0, pg=[], np=0, f=0, nd=0, na=0, pr=0)
        else:
            st["lt"] = max(last, t)
        # (weight, feature, observed, expected, detail): Explanations are only built when a session fires.
        signals: list[tuple] = []

        ua = e.userAgent
        if ua:
            # API clients are automation by design; a scripted login or page view is not.
            sig = automation_signature(ua) if e.eventType != "api_request" else None
            if sig:
                signals.append((W_AUTOMATION, "automation_user_agent", sig, "a browser or app user agent", None))
            agents: list = st.setdefault("ua", [])
            tag = _tag(ua)
            if tag not in agents:
                if history >= MIN_HISTORY and agents:
                    st["na"] = 1
                agents.append(tag)
                if len(agents) > cfg.max_devices_remembered:
                    del agents[0]
        if ev.device:
            devices: list = st.setdefault("dv", [])
            dev = ev.device[:14]
            if dev not in devices:
                if history >= MIN_HISTORY and devices:
                    st["nd"] = 1
                devices.append(dev)
                if len(devices) > cfg.max_devices_remembered:
                    del devices[0]
        if st["nd"]:
            signals.append((W_NEW_DEVICE, "new_device", 1, 0, "device not seen for this user before"))
        if st["na"]:
            signals.append((W_NEW_AGENT, "new_user_agent", 1, 0, "user agent not seen for this user before"))

        if e.eventType in INTERACTIVE:
            prev = st["it"]
            st["it"] = t
            page = (e.metadata or {}).get("page") if e.eventType == "pageview" else None
            if page is not None:
                st["np"] += 1
                pages: list = st["pg"]
                tag = _tag(str(page))
                if tag not in pages and len(pages) < MAX_PAGES:
                    pages.append(tag)
            if prev is not None:
                gap = max(0.0, t - prev)
                st["k"] += 1
                st["s1"] += gap
                st["s2"] += gap * gap
            k = st["k"]
            if k >= cfg.min_intervals:
                mean = st["s1"] / k
                var = max(0.0, st["s2"] / k - mean * mean)
                cv = math.sqrt(var) / mean if mean > 0 else 0.0
                if k == cfg.min_intervals:
                    self.observed["session_cv"].append(cv)
                npages = st["np"]
                diversity = len(st["pg"]) / npages if npages else 0.0
                if cv < cfg.regular_cv and (mean < MACHINE_PACE_S or diversity > 0.8):
                    w = 0.65 + 0.3 * (1.0 - cv / cfg.regular_cv)
                    detail = f"{k} gaps averaging {mean:.1f} s; {len(st['pg'])} distinct of {npages} pages"
                    signals.append((w, "interval_cv", round(cv, 3), f">= {cfg.regular_cv}", detail))
                span = max(st["lt"] - st["st"], 1.0)
                rate = len(st["pg"]) / (span / 60.0)
                distinct = len(st["pg"])
                if distinct >= cfg.min_intervals and not st.get("pr"):
                    st["pr"] = 1
                    self.observed["session_page_rate"].append(rate)
                if distinct >= cfg.min_intervals and rate > cfg.max_pages_per_minute:
                    signals.append((0.7, "distinct_pages_per_minute", round(rate, 1), cfg.max_pages_per_minute, None))

        if not signals or st["f"]:
            return []
        miss = 1.0
        for sig_ in signals:
            miss *= 1.0 - sig_[0]
        score = 1.0 - miss
        if score < cfg.score_threshold:
            return []
        st["f"] = 1
        signals.sort(key=lambda s: -s[0])
        return [
            Finding(
                AnomalyType.BEHAVIORAL,
                score,
                "Session looks automated or unlike this user: " + ", ".join(x[1] for x in signals),
                [Explanation(feature=f, observed=o, expected=e, detail=d) for _, f, o, e, d in signals],
                detector=self.name,
            )
        ]
