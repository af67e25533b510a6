"""`guardian schedules list|run NAME|advance DURATION`: the local stack's schedules and its clock.

The template's `rate(...)` and `cron(...)` schedules run on the local stack's clock (see
anomaly_guardian/local/schedules.py). `run` invokes one schedule's target now, as EventBridge
Scheduler would at its next occurrence; `advance` moves the clock forward and runs every schedule
that fell due (once each). Names are the schedules' `Name` in the template (e.g.
`anomaly-guardian-local-drift-check`) or `Function.EventName` (e.g. `DriftMonitorFunction.DailyDriftCheck`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from urllib.parse import quote


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schedules", help="list, run or fast-forward the local stack's schedules")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--state-dir", type=Path, default=None, help="the local stack's state directory (.local/)")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    verbs.add_parser("list", parents=[common], help="every schedule: expression, next run on the local clock, runs")
    run = verbs.add_parser("run", parents=[common], help="run one schedule now")
    run.add_argument("name")
    adv = verbs.add_parser(
        "advance", parents=[common], help="move the local clock forward (1d, 6h, 15m), run what is due"
    )
    adv.add_argument("duration")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    import requests

    from anomaly_guardian.local.state import NoLocalStack, read_stack

    try:
        api = read_stack(args.state_dir)["api"]
    except NoLocalStack as exc:
        print(f"guardian schedules: {exc}", file=sys.stderr)
        return 2
    if args.verb == "list":
        info = requests.get(f"{api}/_local/schedules", timeout=30).json()
        print(f"local clock {info['clock']} (x{info['speed']:g})")
        for s in info["schedules"]:
            print(f"  {s['name']:<48} {s['expression']:<22} next {s['next']}  runs {s['runs']}  ({s['key']})")
        return 0
    if args.verb == "run":
        resp = requests.post(f"{api}/_local/schedules/{quote(args.name, safe='')}/run", timeout=600)
    else:
        resp = requests.post(f"{api}/_local/clock", json={"advance": args.duration}, timeout=600)
    body = resp.json()
    if resp.status_code != 200:
        print(f"guardian schedules: {body.get('message', body)}", file=sys.stderr)
        return 2
    print(json.dumps(body, indent=1))
    return 0 if body.get("ok", True) else 1
