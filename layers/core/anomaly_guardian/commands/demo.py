"""`guardian demo`: a labelled stream through the real detector pipeline, end to end on this machine.

(Until the local stack exists this replays in-process; the local-stack engineer replaces the body.)
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the whole detection pipeline locally on a generated stream")
    p.add_argument("--events", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=11)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from anomaly_guardian.commands.generate import write_jsonl
    from anomaly_guardian.replay import format_summary, replay
    from anomaly_guardian.scenario.evaluate import format_result, read_jsonl, score
    from anomaly_guardian.scenario.generator import generate

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        scenario = generate(args.events, args.seed)
        write_jsonl(str(folder / "events.jsonl"), scenario.events)
        print(
            f"generated {len(scenario.events):,} events for {scenario.stats['users']:,} users "
            f"({len(scenario.labels):,} labelled anomalous)"
        )
        with open(folder / "anomalies.jsonl", "w", encoding="utf-8") as out:
            summary = replay(folder / "events.jsonl", out)
        print(format_summary(summary))
        anomalies = read_jsonl(str(folder / "anomalies.jsonl"))
        print(format_result(score(scenario.labels, anomalies, summary.events)))
        print("sample anomalies:")
        shown = set()
        for a in anomalies:
            if a["anomalyType"] not in shown:
                shown.add(a["anomalyType"])
                print(f"  [{a['severity']:<8}] {a['anomalyType']:<12} {a['description']}")
    return 0
