"""`guardian eval --events N`: generate a labelled stream, replay it, print recall/precision/FPR;
then the system detector on noisy NAB-like metric series."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="measure per-type recall, precision and false-positive rate on a labelled stream",
        description="Generate a seeded labelled stream, replay it through the detector pipeline and score the "
        "anomalies against the labels; then score the system detector on noisy realistic metric series. "
        "Exits 1 if the labelled-stream targets are missed.",
    )
    p.add_argument("--events", type=int, default=60_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--keep", help="directory to keep events.jsonl, labels.jsonl, anomalies.jsonl")
    p.add_argument("--skip-noisy", action="store_true", help="skip the noisy metric-series evaluation")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from anomaly_guardian.commands.generate import write_jsonl
    from anomaly_guardian.replay import format_summary, replay
    from anomaly_guardian.scenario.evaluate import format_result, read_jsonl, score
    from anomaly_guardian.scenario.generator import generate

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        scenario = generate(args.events, args.seed)
        write_jsonl(str(folder / "events.jsonl"), scenario.events)
        write_jsonl(str(folder / "labels.jsonl"), scenario.labels)
        print(f"== labelled stream (seed {args.seed}): " + json.dumps(scenario.stats), flush=True)
        with open(folder / "anomalies.jsonl", "w", encoding="utf-8") as out:
            summary = replay(folder / "events.jsonl", out, progress=not args.no_progress)
        print(format_summary(summary))
        result = score(scenario.labels, read_jsonl(str(folder / "anomalies.jsonl")), summary.events)
    print(format_result(result))
    if result.false_positive_examples:
        print("false-positive examples:")
        for fp in result.false_positive_examples[:8]:
            print(f"  {fp['anomalyType']:<12} {fp['description']}")
    if not args.skip_noisy:
        from anomaly_guardian.scenario.noisy import evaluate_noisy, format_noisy

        print("\n== system detector on noisy NAB-like metric series")
        print(format_noisy(evaluate_noisy(seed=args.seed)))
    sys.stdout.flush()
    return 0 if result.passed else 1
