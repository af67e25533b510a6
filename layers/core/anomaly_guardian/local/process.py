"""Run `guardian local` as a child process and talk to it: used by `make demo` and the integration tests.

A separate process keeps the handlers' log lines out of the caller's output (they go to a log file),
keeps their process-wide environment (AWS_ENDPOINT_URL, table names) out of the caller, and lets
the stack and its client use both CPU cores.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests


class StackProcess:
    def __init__(self, log_path: Path, port: int = 0, log_level: str = "WARNING", template: Path | None = None):
        self.log_path = Path(log_path)
        self.port = port
        self.log_level = log_level
        self.template = template
        self.proc: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}
        self._tmp = tempfile.TemporaryDirectory(prefix="guardian-local-")

    @property
    def state_dir(self) -> Path:
        """Where this stack writes stack.json / env.json (a temporary directory, never the repo's .local/)."""
        return Path(self._tmp.name) / "state"

    @property
    def api(self) -> str:
        return str(self.info["api"])

    @property
    def aws_endpoint_url(self) -> str:
        return str(self.info["aws_endpoint_url"])

    def start(self, timeout: float = 90.0) -> StackProcess:
        ready = Path(self._tmp.name) / "ready.json"
        cmd = [
            sys.executable,
            "-m",
            "anomaly_guardian.cli",
            "local",
            "--port",
            str(self.port),
            "--log-level",
            self.log_level,
            "--ready-file",
            str(ready),
            "--state-dir",
            str(self.state_dir),
        ]
        if self.template is not None:
            cmd += ["--template", str(self.template)]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")  # noqa: SIM115 - handed to the child for its lifetime
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)  # noqa: S603
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready.exists():
                self.info = json.loads(ready.read_text(encoding="utf-8"))
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        tail = self.log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"local stack did not start (log {self.log_path}):\n{tail}")

    def stats(self) -> dict[str, Any]:
        return requests.get(f"{self.api}/_local/stats", timeout=10).json()

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        code = self.proc.returncode
        self.proc = None
        self._tmp.cleanup()
        return code

    def __enter__(self) -> StackProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
