"""Replay throughput on one core, side by side over the same generated file (issue 16):

- `json.loads` on every line: the parsing floor;
- a plain implementation of the seed's rules (tests/bench/plain_rules.py): the simplest thing that works;
- `guardian replay` in process (parsing + validation + the full default detector pipeline + output);
- `guardian replay` as a whole process (a fresh `guardian replay` subprocess, interpreter start-up and
  imports included), its CPU time from the child's rusage.

All figures are CPU time (the machine is shared, wall time measures the neighbours too); events per CPU
second. The stream is the labelled generator's (seeded, BENCH_REPLAY_EVENTS events, default 60,000).
"""

from __future__ import annotations

import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from anomaly_guardian.commands.generate import write_jsonl
from anomaly_guardian.models.event import parse_event
from anomaly_guardian.replay import replay
from anomaly_guardian.scenario.generator import generate

sys.path.insert(0, str(Path(__file__).resolve().parent))
import plain_rules

EVENTS = int(os.environ.get("BENCH_REPLAY_EVENTS", "60000"))
TARGET_RATIO = 0.7  # replay (whole process) >= 0.7 x the plain baseline


def _cpu(fn, repeat: int = 2) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        fn()
        best = min(best, time.process_time() - started)
    return best


def _child_cpu(cmd: list[str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core (children inherit it)
    scenario = generate(EVENTS, seed=3)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        write_jsonl(str(path), scenario.events)
        raw = path.read_bytes().splitlines()
        n = len(raw)
        floor = n / _cpu(lambda: [json.loads(line) for line in raw] and None)
        parse = n / _cpu(lambda: [parse_event(line) for line in raw])
        plain = n / _cpu(lambda: plain_rules.run(str(path)))
        best = None
        for _ in range(2):
            summary = replay(path, io.StringIO(), progress=False, errors=None)
            best = summary if best is None or summary.cpu_seconds < best.cpu_seconds else best
        guardian = str(Path(sys.executable).with_name("guardian"))
        out = Path(tmp) / "anomalies.jsonl"
        whole_cpu = min(
            _child_cpu([guardian, "replay", str(path), "--output", str(out), "--no-progress"]) for _ in range(2)
        )
    in_process = best.events_per_cpu_second
    whole = n / whole_cpu
    ratio = whole / plain
    print(f"   stream: {n:,} events (generator seed 3), one core, events per CPU second, best of 2")
    print(f"   json.loads floor:          {floor:>9,.0f}")
    print(f"   plain rules baseline:      {plain:>9,.0f}   (tests/bench/plain_rules.py)")
    print(f"   parse+validate only:       {parse:>9,.0f}   (event contract, no detection)")
    print(
        f"   guardian replay in process:{in_process:>9,.0f}   "
        f"({best.anomalies} anomalies, {best.cpu_seconds:.2f} s CPU)"
    )
    print(
        f"   guardian replay, whole process: {whole:,.0f} ({whole_cpu:.2f} s CPU incl. start-up and imports) "
        f"= {ratio:.2f} x plain, target >= {TARGET_RATIO}: {'PASS' if ratio >= TARGET_RATIO else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
