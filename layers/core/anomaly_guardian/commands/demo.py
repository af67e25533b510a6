"""`guardian demo`: a labelled stream through the local stack over HTTP, end to end on this machine.

Default: the real handlers on the embedded AWS emulation (anomaly_guardian.local.demo): POST /events,
Kinesis, detector, GET /anomalies, with latency and no-loss figures and an HTML report.
`--in-process`: the faster replay through the detection pipeline only (no HTTP, no emulated AWS).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the whole detection pipeline locally on a generated stream")
    p.add_argument("--events", type=int, default=None, help="stream size (default 4000; 20000 with --in-process)")
    p.add_argument("--seed", type=int, default=None, help="generator seed (default 7; 11 with --in-process)")
    p.add_argument("--report", type=Path, default=Path("build/demo-report.html"), help="HTML report path")
    p.add_argument("--in-process", action="store_true", help="replay through the pipeline only (no local stack)")
    p.add_argument("--no-usage", action="store_true", help="skip the CloudTrail usage path of the local-stack demo")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.in_process:
        args.events = args.events or 20_000
        args.seed = 11 if args.seed is None else args.seed
        return run_replay(args)
    from anomaly_guardian.local.demo import DemoOptions, run_demo

    opts = DemoOptions(report=args.report)
    if args.events:
        opts.events = args.events
    if args.seed is not None:
        opts.seed = args.seed
    opts.usage = not args.no_usage
    return run_demo(opts)


def run_replay(args: argparse.Namespace) -> int:
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
