"""The `guardian` command. Each subcommand lives in `anomaly_guardian/commands/<name>.py` and
exposes `register(subparsers)`, which adds its parser and sets `func` (returns an exit code)."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from anomaly_guardian import commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="guardian", description="Anomaly Guardian command line")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
