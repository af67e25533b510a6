"""The three environment roots share everything but their name and their terraform.tfvars.

`terraform/envs/dev` is the source: `python terraform/sync_envs.py` writes staging and prod's
variables.tf, outputs.tf, versions.tf (identical copies) and main.tf (dev's with the environment name
replaced); `--check` exits 1 naming every file that is out of sync (run by tests/infra). Per-environment
values belong in each root's terraform.tfvars and backend.tf, never in the shared files.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ENVS = Path(__file__).resolve().parent / "envs"
SOURCE = "dev"
TARGETS = ("staging", "prod")
SHARED = ("variables.tf", "outputs.tf", "versions.tf", "main.tf")
_NAME = re.compile(r'(environment\s*=\s*)"dev"')


def expected(env: str, name: str) -> str:
    text = (ENVS / SOURCE / name).read_text()
    return _NAME.sub(rf'\g<1>"{env}"', text) if name == "main.tf" else text


def out_of_sync() -> list[Path]:
    return [ENVS / env / name for env in TARGETS for name in SHARED
            if (ENVS / env / name).read_text() != expected(env, name)]  # fmt: skip


def main(argv: list[str]) -> int:
    if argv == ["--check"]:
        stale = out_of_sync()
        for path in stale:
            print(f"{path} differs from terraform/envs/{SOURCE}: run python terraform/sync_envs.py", file=sys.stderr)
        return 1 if stale else 0
    for env in TARGETS:
        for name in SHARED:
            (ENVS / env / name).write_text(expected(env, name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
