"""Load the real handlers (`functions/<name>/app.py`) in-process and invoke them like Lambda does.

Each function module is imported once under a unique name (every handler file is called `app.py`),
with a Lambda-like context object. Invocations are serialised per function: a Lambda execution
environment handles one event at a time, and module-level state in handlers assumes exactly that.
"""

from __future__ import annotations

import importlib.util
import logging
import queue
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from anomaly_guardian.local.resources import FunctionSpec

log = logging.getLogger(__name__)


@dataclass
class LambdaContext:
    """The attributes Powertools and handlers read from the Lambda context."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"
    timeout_s: int = 30
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_s - (time.monotonic() - self._started)) * 1000))


class FunctionError(Exception):
    """The handler raised: Lambda would report an unhandled function error."""


@dataclass
class LocalFunction:
    spec: FunctionSpec
    handler: Callable[[dict[str, Any], Any], Any]
    lock: threading.Lock = field(default_factory=threading.Lock)
    invocations: int = 0
    errors: int = 0
    busy_seconds: float = 0.0  # time spent inside the handler
    waited_seconds: float = 0.0  # time spent waiting for the execution environment

    def invoke(self, event: dict[str, Any]) -> Any:
        ctx = LambdaContext(
            function_name=self.spec.name,
            invoked_function_arn=self.spec.arn,
            memory_limit_in_mb=self.spec.memory,
            timeout_s=self.spec.timeout,
        )
        queued = time.perf_counter()
        with self.lock:
            started = time.perf_counter()
            self.waited_seconds += started - queued
            self.invocations += 1
            try:
                return self.handler(event, ctx)
            except Exception as exc:
                self.errors += 1
                log.exception("function %s raised", self.spec.logical_id)
                raise FunctionError(f"{self.spec.logical_id}: {type(exc).__name__}: {exc}") from exc
            finally:
                self.busy_seconds += time.perf_counter() - started


def load_function(spec: FunctionSpec, instance: int = 0) -> LocalFunction:
    """Import the handler module; `instance` > 0 gives another execution environment (own module state)."""
    module_name, _, attr = spec.handler.rpartition(".")
    path = spec.code_dir / f"{module_name.replace('.', '/')}.py"
    if not path.is_file():
        raise FileNotFoundError(f"{spec.logical_id}: handler file {path} does not exist")
    unique = f"guardian_local_fn_{spec.logical_id}" + (f"_{instance}" if instance else "")
    module_spec = importlib.util.spec_from_file_location(unique, path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[unique] = module
    added = str(spec.code_dir) not in sys.path
    if added:
        sys.path.insert(0, str(spec.code_dir))
    try:
        module_spec.loader.exec_module(module)
    finally:
        if added:
            sys.path.remove(str(spec.code_dir))
    handler = getattr(module, attr, None)
    if handler is None:
        raise AttributeError(f"{path} has no {attr}")
    return LocalFunction(spec=spec, handler=handler)


class FunctionPool:
    """Several execution environments of one function, like Lambda's concurrency: an invocation takes
    a free environment or waits for one. Environments are created up front (imports change os.environ)."""

    def __init__(self, environments: list[LocalFunction]):
        self.environments = environments
        self.spec = environments[0].spec
        self._free: queue.SimpleQueue[LocalFunction] = queue.SimpleQueue()
        for env in environments:
            self._free.put(env)

    def invoke(self, event: dict[str, Any]) -> Any:
        env = self._free.get()
        try:
            return env.invoke(event)
        finally:
            self._free.put(env)
