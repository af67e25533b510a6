"""Model detector figures: cold start (imports + model load) and batched NumPy scoring on one core.

Each measurement runs in a fresh interpreter with BLAS/OpenMP pinned to one thread, so the cold
start is a real cold start and "one core" is enforced rather than assumed. The model is
ml/artifacts/model.npz (`make train`) or, if absent, a model trained here on the ML generator.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ONE_CORE = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
COLD_START_BUDGET_S = 1.0
ROWS_PER_S_TARGET = 50_000

COLD = """
import time, json
t0, c0 = time.perf_counter(), time.process_time()
from anomaly_guardian.detection.registry import build_detectors
from anomaly_guardian.detection.model import ModelConfig
import os
tm = time.perf_counter()
dets = build_detectors(model=ModelConfig(switch=os.environ["ML_DETECTOR"], path=os.environ["MODEL_PATH"]))
t1, c1 = time.perf_counter(), time.process_time()
assert (dets[-1].name == "ml") == (os.environ["ML_DETECTOR"] == "on"), [d.name for d in dets]
import sys
print(json.dumps({"seconds": t1 - t0, "cpu": c1 - c0, "build": t1 - tm, "sklearn_imported": "sklearn" in sys.modules}))
"""

SCORE = """
import json, time, sys
import numpy as np
from anomaly_guardian.ml.features import FeatureBatch
from anomaly_guardian.ml.model import ModelBundle
from anomaly_guardian.ml.synth import Generator
from anomaly_guardian.ml.training import parse_stream, replay_features
from anomaly_guardian.detection.model import LocalScorer, ModelDetector
from anomaly_guardian.detection.pipeline import DetectionPipeline
from anomaly_guardian.state.store import InMemoryStateStore
from anomaly_guardian.models.event import parse_event
bundle = ModelBundle.from_bytes(open(sys.argv[1], "rb").read())
events = [e for e, _ in Generator(users=300, days=10, seed=11).events()]
rep = replay_features(parse_stream(events))
reps = max(1, 200_000 // len(rep.X))
X, S = np.vstack([rep.X] * reps), np.vstack([rep.seq] * reps)
out = {"rows": int(len(X))}
for size in (500, 5000):
    best = best_cpu = 0.0
    for _ in range(3):
        t, c = time.perf_counter(), time.process_time()
        for i in range(0, len(X), size):
            bundle.score(FeatureBatch(X[i:i + size], S[i:i + size], []))
        best = max(best, len(X) / (time.perf_counter() - t))
        best_cpu = max(best_cpu, len(X) / (time.process_time() - c))
    out[f"rows_per_s_batch_{size}"] = best
    out[f"cpu_rows_per_s_batch_{size}"] = best_cpu
parsed = [parse_event(e) for e in events]
det = ModelDetector(LocalScorer(bundle), bundle)
pipe = DetectionPipeline(InMemoryStateStore(), detectors=[det])
t = time.perf_counter()
for i in range(0, len(parsed), 500):
    pipe.process("bench", parsed[i:i + 500])
out["pipeline_events_per_s"] = len(parsed) / (time.perf_counter() - t)
print(json.dumps(out))
"""


def _model_path() -> Path:
    path = ROOT / "ml" / "artifacts" / "model.npz"
    if path.exists():
        return path
    out = Path(tempfile.mkdtemp(prefix="guardian-bench-")) / "model.npz"
    code = (
        "from anomaly_guardian.ml.synth import Generator\n"
        "from anomaly_guardian.ml.training import fit_bundle, parse_stream, replay_features\n"
        "rows = list(Generator(users=300, days=10, seed=3).events())\n"
        "rep = replay_features(parse_stream([e for e, l in rows]))\n"
        f"open({str(out)!r}, 'wb').write(fit_bundle(rep.X, rep.seq).to_bytes())\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=600)
    return out


def _run(code: str, *args: str, env: dict[str, str]) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **ONE_CORE, **env},
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    model = _model_path()
    env = {"MODEL_PATH": str(model), "ML_DETECTOR": "on", "POWERTOOLS_TRACE_DISABLED": "true"}
    runs = [_run(COLD, env=env) for _ in range(5)]
    base = [_run(COLD, env={**env, "ML_DETECTOR": "off"}) for _ in range(5)]
    cold = statistics.median(r["seconds"] for r in runs)
    cold_cpu = statistics.median(r["cpu"] for r in runs)
    verdict = "ok" if cold <= COLD_START_BUDGET_S else "OVER BUDGET"
    load = statistics.median(r["build"] for r in runs) - statistics.median(r["build"] for r in base)
    print(
        f"model: {model} ({model.stat().st_size} bytes); load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} cores (a shared machine inflates wall-clock figures)"
    )
    print(
        f"cold start, detectors incl. model (imports + load), median of 5: {cold:.3f} s wall, {cold_cpu:.3f} s CPU "
        f"(budget {COLD_START_BUDGET_S:.1f} s wall: {verdict}); model load adds {load * 1000:.0f} ms; "
        f"scikit-learn imported: {runs[0]['sklearn_imported']}"
    )
    s = _run(SCORE, str(model), env={})
    for size in (500, 5000):
        rate = s[f"rows_per_s_batch_{size}"]
        verdict = "ok" if rate >= ROWS_PER_S_TARGET else "BELOW TARGET"
        print(
            f"model scoring, one core, batches of {size}: {rate:,.0f} rows/s wall, "
            f"{s[f'cpu_rows_per_s_batch_{size}']:,.0f} rows/s per CPU-second "
            f"(target {ROWS_PER_S_TARGET:,} wall: {verdict}; {s['rows']:,} rows)"
        )
    print(
        f"features + scoring through DetectionPipeline (model detector only), batches of 500: "
        f"{s['pipeline_events_per_s']:,.0f} events/s"
    )


if __name__ == "__main__":
    main()
