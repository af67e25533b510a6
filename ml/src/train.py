"""SageMaker Training (script mode): fit the Isolation Forest and the sequence autoencoder, export
both as NumPy arrays (`model.npz` in SM_MODEL_DIR) for the detector Lambda and the endpoint."""

from __future__ import annotations

import sys

if sys.version_info < (3, 11):  # noqa: UP036 (the job image may be older than this repo's Python)
    sys.exit("anomaly_guardian needs Python >= 3.11: run the job on the image from ml/container/Dockerfile")

import argparse
import json
import os
import shutil
from pathlib import Path

import anomaly_guardian
from anomaly_guardian.ml.jobs import sm_dir, train


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model-dir", default=sm_dir("SM_MODEL_DIR", "/opt/ml/model"))
    p.add_argument("--train", default=sm_dir("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    p.add_argument("--n-estimators", type=int, default=100)
    p.add_argument("--max-samples", type=int, default=256)
    p.add_argument("--contamination", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--package-code",
        action="store_true",
        default=bool(os.environ.get("SM_MODEL_DIR")),
        help="put inference.py and the package under <model-dir>/code (endpoint serving; on in SageMaker)",
    )
    args = p.parse_args(argv)
    result = train(
        args.train,
        args.model_dir,
        n_estimators=args.n_estimators,
        max_samples=args.max_samples,
        contamination=args.contamination,
        seed=args.seed,
    )
    if args.package_code:
        code = Path(args.model_dir) / "code"
        code.mkdir(parents=True, exist_ok=True)
        shutil.copy2(Path(__file__).with_name("inference.py"), code / "inference.py")
        shutil.copytree(
            Path(anomaly_guardian.__file__).parent,
            code / "anomaly_guardian",
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
