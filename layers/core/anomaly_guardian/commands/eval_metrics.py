"""`guardian eval-metrics --dir DIR`: the system detector on labelled metric series from disk
(NAB-format CSVs plus a windows JSON), e.g. real CPU, latency and request-count series."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval-metrics",
        help="score the system (metric SPC) detector on labelled metric series (NAB-format CSVs)",
        description="Feed every timestamp,value CSV under --dir that has an entry in the windows JSON through the "
        "system detector as metric events; print per-series and overall windows detected, false alarms per "
        "1,000 points and detection delay.",
    )
    p.add_argument("--dir", required=True, type=Path, help="directory of CSV files (searched recursively)")
    p.add_argument(
        "--windows",
        type=Path,
        help="JSON mapping a CSV's path relative to --dir (or its file name) to [[start, end], ...]; "
        "default: DIR/windows.json, else DIR/combined_windows.json",
    )
    p.add_argument("--tolerance", type=int, default=None, help="points before a window that still count for it")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from anomaly_guardian.scenario.metrics_eval import DEFAULT_TOLERANCE, MetricsDataError, evaluate_dir, format_scores

    windows = args.windows
    if windows is None:
        candidates = [args.dir / "windows.json", args.dir / "combined_windows.json"]
        windows = next((c for c in candidates if c.is_file()), candidates[0])
    if not args.dir.is_dir():
        print(f"error: --dir {args.dir} is not a directory", file=sys.stderr)
        return 2
    tolerance = DEFAULT_TOLERANCE if args.tolerance is None else args.tolerance
    if tolerance < 0:
        print("error: --tolerance must be >= 0", file=sys.stderr)
        return 2
    try:
        scores = evaluate_dir(args.dir, windows, tolerance=tolerance)
    except MetricsDataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_scores(scores, tolerance))
    return 0
