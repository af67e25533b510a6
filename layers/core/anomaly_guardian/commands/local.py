"""`guardian local`: run the whole stack on loopback until Ctrl-C (no AWS account needed)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("local", help="run the API, stream and handlers locally on an embedded AWS emulation")
    p.add_argument("--port", type=int, default=3000, help="API port on 127.0.0.1 (0: any free port)")
    p.add_argument("--moto-port", type=int, default=0, help="AWS emulation port (default: a free port)")
    p.add_argument("--template", type=Path, default=None, help="SAM template (default: sam/template.yaml)")
    p.add_argument("--log-level", default="INFO", help="handlers' POWERTOOLS_LOG_LEVEL")
    p.add_argument("--shards", type=int, default=2, help="Kinesis shards to create")
    p.add_argument("--json", action="store_true", help="print one JSON line describing the stack when ready")
    p.add_argument("--ready-file", type=Path, default=None, help="write the JSON description here when ready")
    p.add_argument("--model", type=Path, default=None, help="exported model to load (e.g. ml/artifacts/model.npz)")
    p.add_argument("--stack-name", default="anomaly-guardian-local", help="prefix of the local resource names")
    p.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="write stack.json and env.json (sam local invoke --env-vars) here (default: .local/ in the repository)",
    )
    p.add_argument(
        "--clock-speed",
        type=float,
        default=1.0,
        help="how fast the local clock that drives schedules runs (e.g. 60: a minute per second)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from anomaly_guardian.local.stack import LocalStack, StackOptions
    from anomaly_guardian.local.state import default_state_dir

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stack = LocalStack(
        StackOptions(
            template=args.template,
            api_port=args.port,
            moto_port=args.moto_port,
            log_level=args.log_level,
            shard_count=args.shards,
            stack_name=args.stack_name,
            model=args.model,
            state_dir=args.state_dir or default_state_dir(),
            schedule_speedup=1.0 / args.clock_speed if args.clock_speed > 0 else 1.0,
        )
    )
    try:
        stack.start()
    except (OSError, RuntimeError) as exc:
        print(f"guardian local: cannot start: {exc}", file=sys.stderr)
        stack.stop()
        return 1
    try:
        info = stack.describe()
        if args.ready_file is not None:
            tmp = args.ready_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(info), encoding="utf-8")
            tmp.replace(args.ready_file)
        if args.json:
            print(json.dumps(info), flush=True)
        else:
            _print_banner(info)
        while not stop.wait(0.2):
            pass
    finally:
        stack.stop()
        sys.stdout.flush()
    return 0


def _print_banner(info: dict) -> None:
    print(f"Anomaly Guardian local stack\n  API               {info['api']}")
    print(f"  AWS_ENDPOINT_URL  {info['aws_endpoint_url']}  (moto; dummy credentials, us-east-1)")
    for route in info["routes"]:
        print(f"  route             {route}")
    for name in info["streams"]:
        print(f"  stream            {name}")
    for logical, name in info["tables"].items():
        print(f"  table             {name}  ({logical})")
    for note in info["notes"]:
        print(f"  note              {note}")
    print("Get a token:  .venv/bin/guardian token --tenant acme      Stop: Ctrl-C")
    print(f"Console:      {info['console']}#token=$(.venv/bin/guardian token --tenant acme)", flush=True)
