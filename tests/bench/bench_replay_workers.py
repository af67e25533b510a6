"""`guardian replay --workers 1` vs `--workers 2` (issue 16, part 4), whole processes, every core of the machine.

Two streams: BENCH_WORKERS_TENANTS tenants (default 4), each the labelled generator's stream of its own
seed, BENCH_WORKERS_EVENTS events in all (default 120,000), interleaved in event time as Kinesis envelopes
(the archive's records); and bench_replay's single-tenant stream (seed 3, BENCH_REPLAY_EVENTS), where only
the tenant's streams (business events, each metric series) can run apart; the generator's streams are
about two thirds metric points (cheap ones: the business events cost most of the CPU). Each N runs
BENCH_WORKERS_RUNS times (default 3), alternating, so both see the same neighbours; the best wall time of
each is reported (events per wall second), and the total CPU of the process tree (the parent and its
workers: what the split costs). The machine is shared: the load average
around the runs is printed with the figures, and the speed-up is only as good as the idle cores were.
The two outputs are compared (anomaly ids, scores, order).

Wall time on a busy machine measures the neighbours; so the same two runs are also made in process and
costed by CPU: the serial part (the parent's CPU: plan, merge, and pass 1 unless its shares ran in the
workers, then the slowest share) plus the slowest worker's CPU is the wall time the run would take on
idle cores (an estimate, printed as one).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from anomaly_guardian.ingest.envelope import encode_record
from anomaly_guardian.replay_workers import replay_partitioned
from anomaly_guardian.scenario.generator import generate

EVENTS = int(os.environ.get("BENCH_WORKERS_EVENTS", "120000"))
TENANTS = int(os.environ.get("BENCH_WORKERS_TENANTS", "4"))
RUNS = int(os.environ.get("BENCH_WORKERS_RUNS", "3"))
SINGLE = int(os.environ.get("BENCH_REPLAY_EVENTS", "60000"))


def write_tenants(path: Path) -> int:
    rows = []
    for t in range(TENANTS):
        for e in generate(EVENTS // TENANTS, seed=21 + t).events:
            rows.append((e["timestamp"], encode_record(f"tenant{t}", e, e["timestamp"])))
    rows.sort(key=lambda r: r[0])
    with path.open("wb") as f:
        for _, data in rows:
            f.write(data + b"\n")
    return len(rows)


def write_one_tenant(path: Path) -> int:
    events = generate(SINGLE, seed=3).events  # bench_replay's stream
    with path.open("w", encoding="utf-8") as f:
        for e in events:
            f.write(json.dumps(e, separators=(",", ":")) + "\n")
    return len(events)


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def stable(path: Path) -> list[tuple]:
    rows = (json.loads(x) for x in path.read_text().splitlines())
    return [(r["anomalyId"], r["anomalyScore"]) for r in rows]


def measure(guardian: str, tmp: Path, label: str, write) -> None:
    path = tmp / "events.jsonl"
    n = write(path)
    best: dict[int, tuple[float, float]] = {}
    load_before = os.getloadavg()
    for _ in range(RUNS):
        for workers in (1, 2):
            out = tmp / f"anomalies-{workers}.jsonl"
            cmd = [guardian, "replay", str(path), "--output", str(out), "--workers", str(workers), "--no-progress"]
            wall, cpu = timed(cmd)
            if workers not in best or wall < best[workers][0]:
                best[workers] = (wall, cpu)
    load_after = os.getloadavg()
    costed = {}
    for workers in (1, 2):
        with open(os.devnull, "w") as sink:
            s = replay_partitioned(path, sink, workers=workers, progress=False, errors=None)
        costed[workers] = (s.parent_cpu_seconds + max(s.prepare_cpu_seconds, default=0.0), s.worker_cpu_seconds)
    same = stable(tmp / "anomalies-1.jsonl") == stable(tmp / "anomalies-2.jsonl")
    anomalies = len(stable(tmp / "anomalies-1.jsonl"))
    (w1, c1), (w2, c2) = best[1], best[2]
    print(f"   {label}: {n:,} events, {os.cpu_count()} cores, whole process, best wall of {RUNS}")
    print(f"     load average before/after: {load_before[0]:.1f} / {load_after[0]:.1f} (1 min)")
    print(f"     --workers 1: {n / w1:>9,.0f} events/s ({w1:.2f} s wall, {c1:.2f} s CPU)")
    print(f"     --workers 2: {n / w2:>9,.0f} events/s ({w2:.2f} s wall, {c2:.2f} s CPU in all processes)")
    print(
        f"     speed-up x{w1 / w2:.2f} on 2 workers; CPU overhead of the split {c2 / c1 - 1:+.0%}; "
        f"outputs identical ({anomalies} anomalies, ids and scores): {'PASS' if same else 'FAIL'}"
    )
    critical = {}
    for workers, (serial, per_worker) in costed.items():
        critical[workers] = serial + max(per_worker)
        shares = " + ".join(f"{c:.2f}" for c in per_worker)
        print(
            f"     in process, CPU-costed, --workers {workers}: serial {serial:.2f} s + workers [{shares}] s "
            f"-> {n / critical[workers]:,.0f} events/s on idle cores (estimate)"
        )
    print(f"     idle-core speed-up estimate x{critical[1] / critical[2]:.2f}")


def main() -> None:
    if hasattr(os, "sched_setaffinity"):  # bench_replay pins this process to one core: undo it
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    guardian = str(Path(sys.executable).with_name("guardian"))
    with tempfile.TemporaryDirectory() as tmp:
        measure(guardian, Path(tmp), f"{TENANTS} tenants (envelopes)", write_tenants)
    with tempfile.TemporaryDirectory() as tmp:
        measure(guardian, Path(tmp), "1 tenant (bare events, bench_replay's stream)", write_one_tenant)


if __name__ == "__main__":
    main()
