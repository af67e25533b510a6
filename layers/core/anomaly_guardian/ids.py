"""Identifiers: ULIDs sort by creation time, so an anomaly id doubles as its sort key."""

from __future__ import annotations

import os
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def encode_ulid(ms: int, randomness: int) -> str:
    value = (ms << 80) | randomness
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_ulid(ms: int | None = None) -> str:
    ms = int(time.time() * 1000) if ms is None else ms
    return encode_ulid(ms, int.from_bytes(os.urandom(10), "big"))


def ulid_bounds(ms: int) -> tuple[str, str]:
    """Smallest and largest ULID for one millisecond: time-range queries on ULID sort keys."""
    return encode_ulid(ms, 0), encode_ulid(ms, (1 << 80) - 1)


def ulid_ms(ulid: str) -> int:
    value = 0
    for ch in ulid[:10]:
        value = value * 32 + _CROCKFORD.index(ch)
    return value
