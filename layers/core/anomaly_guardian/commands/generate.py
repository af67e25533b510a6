"""`guardian generate --events N --seed S --output X.jsonl --labels Y.jsonl`: a labelled synthetic stream."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate",
        help="write a labelled synthetic event stream",
        description="Generate users, sessions, transactions and service metrics with injected anomalies of "
        "every type. Events go to --output (the event contract, one per line); labels go to --labels "
        "({eventId, label, episode} per line), never into the events.",
    )
    p.add_argument("--events", type=int, default=60_000, help="approximate number of events (default 60000)")
    p.add_argument("--seed", type=int, default=7, help="random seed (same seed, same stream)")
    p.add_argument("--output", required=True, help="events file (JSON lines)")
    p.add_argument("--labels", required=True, help="labels file (JSON lines)")
    p.set_defaults(func=run)


def write_jsonl(path: str, rows: list) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, separators=(",", ":")))
            f.write("\n")


def run(args: argparse.Namespace) -> int:
    from anomaly_guardian.scenario.generator import generate

    if args.events < 500:
        print("guardian generate: --events must be at least 500", file=sys.stderr)
        return 2
    scenario = generate(args.events, args.seed)
    write_jsonl(args.output, scenario.events)
    write_jsonl(args.labels, scenario.labels)
    print(json.dumps(scenario.stats, indent=2), file=sys.stderr)
    return 0
