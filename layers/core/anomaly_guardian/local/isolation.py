"""Let several API handlers share one process the way separate Lambda functions share none.

Powertools' event handler keeps the current request on class attributes of `BaseRouter`
(`current_event`, `lambda_context`): one value per process, which is right in Lambda (one request
per execution environment) but lets the ingest and API functions overwrite each other's request
when the local stack serves them concurrently. `thread_local_router_state()` makes those two
attributes per-thread; if Powertools changes shape it returns False and the stack serialises the
API functions instead (correct, only slower).
"""

from __future__ import annotations

import threading
from typing import Any

_ATTRS = ("current_event", "lambda_context")
_applied = False
_undo: list[Any] = []


class _PerThread:
    def __init__(self, name: str, store: threading.local):
        self.name, self.store = name, store

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        try:
            return getattr(self.store, self.name)
        except AttributeError:
            raise AttributeError(self.name) from None

    def __set__(self, obj: Any, value: Any) -> None:
        setattr(self.store, self.name, value)


def thread_local_router_state() -> bool:
    global _applied
    if _applied:
        return True
    try:
        from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

        store = threading.local()
        meta = type(BaseRouter)
        saved = {name: BaseRouter.__dict__[name] for name in _ATTRS if name in BaseRouter.__dict__}
        _undo[:] = [BaseRouter, meta, saved]
        namespace = {name: _PerThread(name, store) for name in _ATTRS}
        per_thread_meta = type(f"PerThread{meta.__name__}", (meta,), namespace)
        for name in _ATTRS:  # reads through instances (`app.current_event`) find these
            setattr(BaseRouter, name, _PerThread(name, store))
        BaseRouter.__class__ = per_thread_meta  # writes on the class (`BaseRouter.current_event = e`)
    except Exception:  # pragma: no cover - depends on the installed Powertools
        return False
    _applied = True
    return True


def restore_router_state() -> None:
    """Undo `thread_local_router_state()` (the stack calls it on stop, e.g. inside a test process)."""
    global _applied
    if not _applied:
        return
    router, meta, saved = _undo
    router.__class__ = meta
    for name in _ATTRS:
        if name in router.__dict__:
            delattr(router, name)
        if name in saved:
            setattr(router, name, saved[name])
    _applied = False
