"""`guardian cost send FILE... [--run]`: feed Cost Explorer anomalies to the local stack's stand-in.

In AWS, Cost Anomaly Detection finds the anomalies and the scheduled cost_anomalies function reads them
with GetAnomalies. moto has no GetAnomalies; the local emulation's stand-in
(anomaly_guardian/local/cost_explorer.py) answers it with the anomalies this command posts. A FILE is a
saved GetAnomalies answer (`aws ce get-anomalies ... > file.json`, `{"Anomalies": [...]}`), a JSON list,
or one anomaly per line. `--run` then runs the function's schedule now (as `guardian schedules run`),
instead of waiting up to 6 hours of the local clock.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

SCHEDULE = "CostAnomaliesFunction.Every6Hours"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cost", help="feed Cost Explorer anomalies to the local stack's GetAnomalies stand-in")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    send = verbs.add_parser("send", help="store the anomalies of FILE... in the local Cost Explorer stand-in")
    send.add_argument("files", nargs="+", type=Path, help='{"Anomalies": [...]}, a JSON list, or JSON lines')
    send.add_argument("--state-dir", type=Path, default=None, help="the local stack's state directory (.local/)")
    send.add_argument("--endpoint-url", default=None, help="the AWS emulation (default: the local stack's)")
    send.add_argument("--run", action="store_true", help=f"then run {SCHEDULE} now and print its result")
    send.set_defaults(func=run_send)


def read_anomalies(path: Path) -> list[Any]:
    text = path.read_text()
    try:
        body = json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(body, dict):
        return list(body["Anomalies"]) if "Anomalies" in body else [body]
    return list(body)


def run_send(args: argparse.Namespace) -> int:
    import requests

    from anomaly_guardian.local.cost_explorer import FEED_PATH, InvalidAnomaly, check
    from anomaly_guardian.local.state import NoLocalStack, read_stack

    info: dict[str, Any] = {}
    if args.endpoint_url is None or args.run:
        try:
            info = read_stack(args.state_dir)
        except NoLocalStack as exc:
            print(f"guardian cost send: {exc}", file=sys.stderr)
            return 2
    endpoint = args.endpoint_url or info["aws_endpoint_url"]
    anomalies: list[Any] = []
    for path in args.files:
        try:
            items = read_anomalies(path)
            for item in items:
                check(item)
        except (OSError, ValueError, KeyError, InvalidAnomaly) as exc:
            print(f"guardian cost send: {path}: {exc}", file=sys.stderr)
            return 1
        anomalies += items
    resp = requests.post(f"{endpoint}{FEED_PATH}", json={"Anomalies": anomalies}, timeout=30)
    if resp.status_code != 201:
        print(f"guardian cost send: the stand-in refused: {resp.text}", file=sys.stderr)
        return 1
    print(f"stored {len(anomalies)} Cost Explorer anomal{'y' if len(anomalies) == 1 else 'ies'} at {endpoint}")
    if args.run:
        ran = requests.post(f"{info['api']}/_local/schedules/{quote(SCHEDULE, safe='')}/run", timeout=600)
        print(json.dumps(ran.json(), indent=1))
        return 0 if ran.status_code == 200 and ran.json().get("ok", True) else 1
    return 0
