"""What a running local stack tells other commands on the machine: `<repo>/.local/` by default.

- `stack.json`: the stack's description (API URL, AWS_ENDPOINT_URL, the OpenSearch fake's URL, log
  groups with subscriptions, schedules, tables, queues) for `guardian cloudtrail send`,
  `guardian schedules ...` and other tools;
- `env.json`: `sam local invoke --env-vars` for every function of the template: the resource names
  the local stack created plus `LOCAL_AWS_ENDPOINT_URL`/`AWS_ENDPOINT_URL` pointing at the
  emulation (`make invoke` uses it, so an invoked handler talks to the local stack, never to AWS).

Both are removed when the stack stops. `GUARDIAN_LOCAL_DIR` or `--state-dir` chooses another place
(the integration tests use a temporary directory so they never touch a developer's running stack).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

STACK_FILE = "stack.json"
ENV_FILE = "env.json"


def default_state_dir() -> Path:
    if os.environ.get("GUARDIAN_LOCAL_DIR"):
        return Path(os.environ["GUARDIAN_LOCAL_DIR"])
    from anomaly_guardian.local.stack import find_repo_root

    try:
        return find_repo_root() / ".local"
    except FileNotFoundError:
        return Path.cwd() / ".local"


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    tmp.replace(path)


class NoLocalStack(RuntimeError):
    pass


def read_stack(state_dir: Path | None = None) -> dict[str, Any]:
    path = Path(state_dir or default_state_dir()) / STACK_FILE
    if not path.is_file():
        raise NoLocalStack(f"no local stack description at {path}: start one with `make local` (guardian local)")
    return json.loads(path.read_text(encoding="utf-8"))
