"""`guardian eval --events N`: generate a labelled stream, replay it, print recall/precision/FPR;
then the system detector on noisy NAB-like metric series. `--variants` runs every generated population
(regular and irregular browsing, heavy and light spenders, sparse and dense histories) and other seeds,
and reports the worst variant (lowest recall of any type, then highest FPR), not the best."""

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
    p.add_argument("--population", default="default", help="generated population (see --variants)")
    p.add_argument("--variants", action="store_true", help="run every population and seeds 11, 23; report the worst")
    p.add_argument("--skip-noisy", action="store_true", help="skip the noisy metric-series evaluation")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


VARIANT_SEEDS = (11, 23)


def _once(args: argparse.Namespace, seed: int, population: str, keep: str | None, quiet: bool):
    from anomaly_guardian.commands.generate import write_jsonl
    from anomaly_guardian.replay import format_summary, replay
    from anomaly_guardian.scenario.evaluate import read_jsonl, score
    from anomaly_guardian.scenario.generator import POPULATIONS, generate

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        scenario = generate(args.events, seed, POPULATIONS[population])
        write_jsonl(str(folder / "events.jsonl"), scenario.events)
        write_jsonl(str(folder / "labels.jsonl"), scenario.labels)
        if not quiet:
            print(
                f"== labelled stream (seed {seed}, population {population}): " + json.dumps(scenario.stats), flush=True
            )
        with open(folder / "anomalies.jsonl", "w", encoding="utf-8") as out:
            summary = replay(folder / "events.jsonl", out, progress=not (args.no_progress or quiet))
        if not quiet:
            print(format_summary(summary))
        return score(scenario.labels, read_jsonl(str(folder / "anomalies.jsonl")), summary.events)


def _min_recall(result) -> tuple[float, str]:
    from anomaly_guardian.scenario.generator import TYPES

    return min((result.per_type[t].recall, t) for t in TYPES)


def _report(result) -> None:
    from anomaly_guardian.scenario.evaluate import format_result

    print(format_result(result))
    if result.false_positive_examples:
        print("false-positive examples:")
        for fp in result.false_positive_examples[:8]:
            print(f"  {fp['anomalyType']:<12} {fp['description']}")


def run(args: argparse.Namespace) -> int:
    from anomaly_guardian.scenario.generator import POPULATIONS

    if args.population not in POPULATIONS:
        print(f"unknown population {args.population}; one of {', '.join(POPULATIONS)}", file=sys.stderr)
        return 2
    if args.variants:
        variants = [(args.seed, name) for name in POPULATIONS] + [(s, "default") for s in VARIANT_SEEDS]
        print(f"{'variant':<28} {'min recall':>16} {'FPR':>8} {'FP/clean':>14}  verdict", flush=True)
        results = []
        for seed, name in variants:
            r = _once(args, seed, name, None, quiet=True)
            rec, kind = _min_recall(r)
            results.append(((rec, -r.fpr), f"{name} seed {seed}", r))
            print(
                f"{name + ' seed ' + str(seed):<28} {rec:>7.3f} ({kind:<8}) {100 * r.fpr:>7.3f}% "
                f"{r.clean_flagged:>5}/{r.clean_events:<8,}  {'PASS' if r.passed else 'FAIL'}",
                flush=True,
            )
        _, label, worst = min(results, key=lambda x: x[0])
        print(f"\n== worst variant: {label}")
        _report(worst)
        passed = all(r.passed for _, _, r in results)
        print(f"{'PASS' if passed else 'FAIL'}: every variant (the worst above) within the targets")
    else:
        result = _once(args, args.seed, args.population, args.keep, quiet=False)
        _report(result)
        passed = result.passed
    if not args.skip_noisy:
        from anomaly_guardian.scenario.noisy import evaluate_noisy, format_noisy, format_seeds

        print("\n== system detector on noisy NAB-like metric series")
        print(format_noisy(evaluate_noisy(seed=args.seed)))
        if args.variants:
            seeds = (args.seed, *VARIANT_SEEDS)
            print(f"\n== the same over seeds {', '.join(map(str, seeds))} (worst reported), beside the control chart")
            rows = [(s, evaluate_noisy(seed=s), evaluate_noisy(seed=s, chart_only=True)) for s in seeds]
            print(format_seeds(rows))
    sys.stdout.flush()
    return 0 if passed else 1
