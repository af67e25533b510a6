"""SageMaker Processing: `guardian replay` over the event archive, this instance's share of the tenants.

Every instance of the job gets the whole archive range (FullyReplicated) and replays the tenants of its
partition (`anomaly_guardian.replay_workers.tenant_partition`: the instance's index among the job's hosts
in /opt/ml/config/resourceconfig.json, of the instance count) on all its cores, exactly as
`guardian replay --workers N --partition I/K` does. Out: `anomalies-<host>.jsonl` (GET /anomalies items)
and `summary-<host>.json`; the instances' outputs together are what one machine would produce.
"""

from __future__ import annotations

import sys

if sys.version_info < (3, 11):  # noqa: UP036 (the job image may be older than this repo's Python)
    sys.exit("anomaly_guardian needs Python >= 3.11: run the job on the image from ml/container/Dockerfile")

import argparse
import json
import os
from pathlib import Path

from anomaly_guardian.replay_workers import replay_partitioned

RESOURCE_CONFIG = "/opt/ml/config/resourceconfig.json"


def this_partition(resource_config: str) -> tuple[str, int, int]:
    """(host, index, count) of this instance; one partition of one outside SageMaker."""
    try:
        config = json.loads(Path(resource_config).read_text())
    except FileNotFoundError:
        return "local", 0, 1
    hosts = sorted(config["hosts"])
    return config["current_host"], hosts.index(config["current_host"]), len(hosts)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--input-dir", default="/opt/ml/processing/input/archive")
    p.add_argument("--output-dir", default="/opt/ml/processing/output")
    p.add_argument("--workers", type=int, default=0, help="processes on this instance (0: one per core)")
    p.add_argument("--tenant", default="default", help="tenant for rows that are bare events, not envelopes")
    p.add_argument("--chunk-size", type=int, default=2000)
    p.add_argument("--resource-config", default=RESOURCE_CONFIG)
    args = p.parse_args(argv)
    host, index, count = this_partition(args.resource_config)
    workers = args.workers or os.cpu_count() or 1
    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / f"anomalies-{host}.jsonl").open("w", encoding="utf-8") as out:
        s = replay_partitioned(
            [args.input_dir],
            out,
            tenant=args.tenant,
            chunk_size=args.chunk_size,
            workers=workers,
            progress=False,
            partition=(index, count),
        )
    summary = {
        "host": host,
        "partition": f"{index}/{count}",
        "workers": s.workers,
        "tenants": s.tenants,
        "records": s.lines,
        "events": s.events,
        "rejected": s.rejected,
        "anomalies": s.anomalies,
        "byType": dict(s.by_type),
        "bySeverity": dict(s.by_severity),
        "seconds": round(s.seconds, 1),
        "cpuSeconds": round(s.cpu_seconds, 1),
        "errors": s.errors,
    }
    (out_dir / f"summary-{host}.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: v for k, v in summary.items() if k != "errors"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
