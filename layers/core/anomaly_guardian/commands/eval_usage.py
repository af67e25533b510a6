"""`guardian eval-usage`: the usage path on generated CloudTrail trails (daily cycles, deploys,
autoscaling, labelled Lambda loops, leaked keys, CreateVolume and RunInstances bursts)."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval-usage",
        help="score the usage path on generated CloudTrail trails (episodes found, false alarms per day)",
        description="Generate a trail per account shape and seed, run it through the default detector pipeline "
        "as the usage-ingest Lambda would, and print episodes found and false alarms per day. Exits 1 "
        "when an episode is missed or a trail has more than 0.5 false alarms per day.",
    )
    p.add_argument("--seeds", default="1,2,3", help="comma-separated seeds (default 1,2,3)")
    p.add_argument("--shapes", default="small,busy,org", help="account shapes: small, busy, org")
    p.add_argument("--days", type=int, default=5, help="days per trail (default 5; the first is warm-up)")
    p.add_argument("--episodes-per-kind", type=int, default=2, help="episodes of each kind per trail")
    p.add_argument("--compare-velocity", action="store_true", help="also count the generic velocity rule's alarms")
    p.add_argument("--write-trail", help="write the first trail's records as CloudTrail JSON lines here and stop")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from anomaly_guardian.scenario.cloudtrail import SHAPES, generate_trail
    from anomaly_guardian.scenario.usage_eval import FALSE_ALARMS_PER_DAY_TARGET, evaluate, format_table

    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        print("guardian eval-usage: --seeds takes integers, e.g. 1,2,3", file=sys.stderr)
        return 2
    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown or not seeds:
        print(
            f"guardian eval-usage: unknown shape {unknown[0] if unknown else ''!r}; use {', '.join(SHAPES)}",
            file=sys.stderr,
        )
        return 2
    if args.days < 2:
        print("guardian eval-usage: --days must be at least 2 (the first day is warm-up)", file=sys.stderr)
        return 2
    if args.write_trail:
        trail = generate_trail(seeds[0], args.days, shapes[0], args.episodes_per_kind)
        with open(args.write_trail, "w", encoding="utf-8") as out:
            for rec in trail.records:
                out.write(json.dumps(rec, separators=(",", ":")) + "\n")
        print(json.dumps([e.as_dict() for e in trail.episodes], indent=1))
        return 0
    results = evaluate(seeds, shapes, args.days, args.episodes_per_kind, args.compare_velocity)
    print(format_table(results))
    failed = False
    for r in results:
        for m in r.missed:
            print(f"missed ({r.shape}, seed {r.seed}): {m}")
            failed = True
        for x in r.false_alarm_examples:
            print(f"false alarm ({r.shape}, seed {r.seed}): {x}")
        if r.false_alarms_per_day > FALSE_ALARMS_PER_DAY_TARGET:
            failed = True
    print("PASS" if not failed else f"FAIL: every episode found and <= {FALSE_ALARMS_PER_DAY_TARGET} false alarms/day")
    return 1 if failed else 0
