"""Helpers shared by the IaC tests (a uniquely named module: `conftest` names collide across test dirs)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools"
OFFLINE_AWS = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "offline-checks",
    "AWS_SECRET_ACCESS_KEY": "offline-checks",
    "AWS_EC2_METADATA_DISABLED": "true",
    "SAM_CLI_TELEMETRY": "0",
}


def tool(relative: str) -> Path:
    """A pinned tool from .tools/; under `make test` (GUARDIAN_REQUIRE_INFRA_TOOLS=1) a missing one fails."""
    path = TOOLS / relative
    if not path.exists():
        message = f"{path} is not installed: run `make infra-tools`"
        if os.environ.get("GUARDIAN_REQUIRE_INFRA_TOOLS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


def run(cmd: list[str], cwd: Path = ROOT, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **OFFLINE_AWS}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
