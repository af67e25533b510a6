"""The state store interface and its in-memory implementation.

A detector batch reads every entity it needs once (`load`), works on plain dicts in memory, and
writes back what changed once (`save`). Writes are conditional on the version that was read, so
two shards racing on one entity cannot silently overwrite each other: the loser gets
`StateConflict` naming the keys, reloads and reapplies.

Keys always start with the tenant: `{tenant}#{kind}#{entity}`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


def state_key(tenant: str, kind: str, entity: str) -> str:
    return f"{tenant}#{kind}#{entity}"


@dataclass(slots=True)
class StateItem:
    state: dict[str, Any] = field(default_factory=dict)
    version: int = 0  # 0: not stored yet
    ttl: int | None = None  # epoch seconds after which the store may forget the item


class StateConflict(Exception):
    def __init__(self, keys: Iterable[str]):
        self.keys = sorted(keys)
        super().__init__(f"state changed concurrently for {len(self.keys)} key(s)")


class StateStore(Protocol):
    def load(self, keys: Iterable[str]) -> dict[str, StateItem]:
        """Every requested key is in the result; missing ones come back empty with version 0."""

    def save(self, items: Mapping[str, StateItem]) -> None:
        """Write items whose version still matches what was loaded; bumps each item's version."""

    def delete_prefix(self, prefix: str) -> int:
        """Erase every item whose key starts with `prefix` (GDPR erasure); returns how many."""


class InMemoryStateStore:
    """Replay and unit tests. Items are shared by reference: no copy on load, O(1) per key."""

    def __init__(self) -> None:
        self._items: dict[str, StateItem] = {}

    def load(self, keys: Iterable[str]) -> dict[str, StateItem]:
        items = self._items
        out = {}
        for key in keys:
            item = items.get(key)
            if item is None:
                item = items[key] = StateItem()
            out[key] = item
        return out

    def save(self, items: Mapping[str, StateItem]) -> None:
        for key, item in items.items():
            item.version += 1
            self._items[key] = item

    def delete_prefix(self, prefix: str) -> int:
        doomed = [k for k in self._items if k.startswith(prefix)]
        for key in doomed:
            del self._items[key]
        return len(doomed)

    def __len__(self) -> int:
        return len(self._items)
