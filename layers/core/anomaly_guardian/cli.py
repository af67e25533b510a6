"""The `guardian` command. Each subcommand lives in `anomaly_guardian/commands/<name>.py` and
exposes `register(subparsers)`, which adds its parser and sets `func` (returns an exit code)."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from anomaly_guardian import commands


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or (given the subcommand about to run) only that subcommand's: the other command
    modules and what they import (JWT and crypto, HTTP clients, OpenSearch definitions) are not loaded, which
    is most of `guardian replay`'s start-up (issue 16). Unknown or renamed commands get the whole parser."""
    parser = argparse.ArgumentParser(prog="guardian", description="Anomaly Guardian command line")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    names = sorted(info.name for info in pkgutil.iter_modules(commands.__path__))
    guess = command.replace("-", "_") if command else None
    if guess in names:
        importlib.import_module(f"{commands.__name__}.{guess}").register(sub)
        if command in sub.choices:
            return parser
        return build_parser()
    for name in names:
        importlib.import_module(f"{commands.__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    first = argv[0] if argv and not argv[0].startswith("-") else None
    args = build_parser(first).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
