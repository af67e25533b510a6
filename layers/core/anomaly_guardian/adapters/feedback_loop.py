"""The detector's reads for the feedback loop, batched and briefly cached per tenant.

- `SuppressionLookup.active(tenant, patterns)`: which (anomalyType, entity) patterns have a live analyst
  suppression (Config table `SUPPRESS#...`). Called only with the patterns of a batch's anomalies.
- `MonitoringLookup.factors(tenant, users)`: thresholdFactor of users with a live enhanced-monitoring
  flag (BlockList `FLAG#monitor#{user}`). Called with the users of the batch.

Each call is at most one batched read (BatchGetItem, 100 keys per request) for the keys not in the cache;
answers, including "none", are cached for `FEEDBACK_CACHE_SECONDS` (default 30), and an item is never
used past its own `expiresAt`. A failed read fails open (nothing suppressed, nobody monitored) and is
logged: losing the loop must not lose detections or stall the stream.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Hashable
from typing import Any

MAX_CACHED = 50_000
_NONE = object()


class KeyCache:
    """(tenant, key) -> (value, item expiry, fetched at); `get_many` fetches what is missing or stale."""

    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self.ttl = ttl_seconds
        self.clock = clock
        self._items: dict[tuple[str, Hashable], tuple[Any, float, float]] = {}

    def get_many(
        self, tenant: str, keys: Collection[Hashable], fetch: Callable[[set], dict[Hashable, tuple[Any, float]]]
    ) -> dict[Hashable, Any]:
        """{key: value} for keys with a live item; `fetch(missing) -> {key: (value, expiresAt or 0)}`."""
        now = self.clock()
        out, missing = {}, set()
        for key in keys:
            hit = self._items.get((tenant, key))
            if hit is None or now - hit[2] >= self.ttl:
                missing.add(key)
            elif hit[0] is not _NONE and (not hit[1] or hit[1] > now):
                out[key] = hit[0]
        if missing:
            found = fetch(missing)
            if len(self._items) + len(missing) > MAX_CACHED:
                self._items.clear()
            for key in missing:
                value, expires = found.get(key, (_NONE, 0))
                if self.ttl > 0:
                    self._items[(tenant, key)] = (value, expires, now)
                if value is not _NONE and (not expires or expires > now):
                    out[key] = value
        return out


DEFAULT_CACHE_SECONDS = 30.0  # FEEDBACK_CACHE_SECONDS (DetectorSettings)


class SuppressionLookup:
    def __init__(self, repo: Any, *, ttl_seconds: float | None = None, clock=time.time, logger: Any = None):
        self.repo = repo  # adapters.config_repo.ConfigRepository
        self.cache = KeyCache(DEFAULT_CACHE_SECONDS if ttl_seconds is None else ttl_seconds, clock)
        self.logger = logger

    def active(self, tenant: str, patterns: Collection[tuple[str, str]]) -> set[tuple[str, str]]:
        def fetch(missing: set) -> dict:
            return {p: (True, exp) for p, exp in self.repo.suppression_expiries(tenant, missing).items()}

        try:
            return set(self.cache.get_many(tenant, patterns, fetch))
        except Exception as exc:  # fail open: the anomaly is stored and answered as usual
            if self.logger:
                self.logger.warning(
                    "suppression lookup failed; nothing suppressed", extra={"error": type(exc).__name__}
                )
            return set()


class MonitoringLookup:
    def __init__(self, flags: Any, *, ttl_seconds: float | None = None, clock=time.time, logger: Any = None):
        self.flags = flags  # adapters.blocklist.DynamoDBBlockList
        self.cache = KeyCache(DEFAULT_CACHE_SECONDS if ttl_seconds is None else ttl_seconds, clock)
        self.logger = logger

    def factors(self, tenant: str, users: Collection[str]) -> dict[str, float]:
        def fetch(missing: set) -> dict:
            return self.flags.monitor_flags(tenant, missing)

        try:
            return self.cache.get_many(tenant, users, fetch)
        except Exception as exc:  # fail open: default thresholds
            if self.logger:
                self.logger.warning("monitoring flag lookup failed", extra={"error": type(exc).__name__})
            return {}


__all__ = ["KeyCache", "MonitoringLookup", "SuppressionLookup"]
