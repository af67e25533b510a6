"""`guardian replay EVENTS.jsonl --output ANOMALIES.jsonl`: the detector pipeline over a file."""

from __future__ import annotations

import argparse
import os
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "replay",
        help="run the detector pipeline over a JSON-lines file of events",
        description="Process events (one JSON object per line, the event contract) in event-time order with "
        "the in-memory state store and write one anomaly per line (GET /anomalies item format). Bad "
        "lines are reported with their line number and skipped.",
    )
    p.add_argument(
        "events",
        nargs="+",
        help="input file(s): one event per line; with --source cloudtrail, "
        'CloudTrail records (JSON lines or {"Records": [...]} log files, gzip or not)',
    )
    p.add_argument(
        "--source",
        choices=["events", "cloudtrail"],
        default="events",
        help="events: the event contract (one file); cloudtrail: CloudTrail records as delivered",
    )
    p.add_argument("--output", required=True, help="anomalies file to write ('-' for stdout)")
    p.add_argument("--tenant", default="local", help="tenant id for every event (default: local)")
    p.add_argument("--chunk-size", type=int, default=2000, help="events per pipeline call (default 2000)")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes to spread the tenants over (anomaly_guardian.replay_workers: each tenant's events "
        "stay in one process, in event-time order; results identical for any N); accepts Kinesis "
        'envelopes {"tenantId", "receivedAt", "event"} as lines, and archive objects as Firehose writes '
        "them (several files or directories, gzip, records concatenated)",
    )
    p.add_argument(
        "--partition",
        metavar="I/K",
        default=None,
        help="with --workers: only the tenants of partition I of K (0 <= I < K, a stable hash of the tenant), "
        "so K machines share one archive; their K outputs together are the one-machine output",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from anomaly_guardian.replay import format_summary, replay, replay_cloudtrail

    if args.chunk_size < 1:
        print("guardian replay: --chunk-size must be at least 1", file=sys.stderr)
        return 2
    if args.workers is not None and (args.workers < 1 or args.source != "events"):
        print("guardian replay: --workers needs a number >= 1 and --source events", file=sys.stderr)
        return 2
    partition = None
    if args.partition is not None:
        i, _, k = args.partition.partition("/")
        if args.workers is None or not (i.isdigit() and k.isdigit() and int(i) < int(k)):
            print("guardian replay: --partition needs --workers and the form I/K with 0 <= I < K", file=sys.stderr)
            return 2
        partition = (int(i), int(k))
    missing = [p for p in args.events if not os.path.exists(p)]
    if args.workers is not None and missing:
        print(f"guardian replay: no such file: {missing[0]}", file=sys.stderr)
        return 2
    if args.source == "events" and len(args.events) > 1 and args.workers is None:
        print("guardian replay: several files need --source cloudtrail or --workers", file=sys.stderr)
        return 2
    try:
        out = sys.stdout if args.output == "-" else open(args.output, "w", encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        print(f"guardian replay: cannot write {args.output}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        if args.source == "cloudtrail":
            missing = [p for p in args.events if not os.path.isfile(p)]
            if missing:
                print(f"guardian replay: no such file: {missing[0]}", file=sys.stderr)
                return 2
            summary = replay_cloudtrail(
                args.events, out, tenant=args.tenant, chunk_size=args.chunk_size, progress=not args.no_progress
            )
        elif args.workers is not None:
            from anomaly_guardian.replay_workers import replay_partitioned

            summary = replay_partitioned(
                args.events,
                out,
                tenant=args.tenant,
                chunk_size=args.chunk_size,
                workers=args.workers,
                progress=not args.no_progress,
                partition=partition,
            )
        else:
            summary = replay(
                args.events[0], out, tenant=args.tenant, chunk_size=args.chunk_size, progress=not args.no_progress
            )
    except FileNotFoundError:
        print(f"guardian replay: no such file: {args.events[0]}", file=sys.stderr)
        return 2
    finally:
        if out is not sys.stdout:
            out.close()
    print(format_summary(summary), file=sys.stderr)
    if args.workers is not None:
        print(f"workers: {summary.workers} of {args.workers} asked ({summary.tenants} tenants)", file=sys.stderr)
    return 0
