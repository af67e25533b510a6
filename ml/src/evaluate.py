"""SageMaker Processing: score the held-out (later) part of the stream and write evaluation.json
(precision, recall, F1, ROC-AUC, PR-AUC, false-positive rate, cost of false positives/negatives)."""

from __future__ import annotations

import sys

if sys.version_info < (3, 11):  # noqa: UP036 (the job image may be older than this repo's Python)
    sys.exit("anomaly_guardian needs Python >= 3.11: run the job on the image from ml/container/Dockerfile")

import argparse
import json

from anomaly_guardian.ml.jobs import evaluate


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", default="/opt/ml/processing/model")
    p.add_argument("--test", default="/opt/ml/processing/test")
    p.add_argument("--output-dir", default="/opt/ml/processing/evaluation")
    p.add_argument("--cost-fp", type=float, default=1.0, help="cost of one false positive (analyst time)")
    p.add_argument("--cost-fn", type=float, default=25.0, help="cost of one missed anomaly")
    args = p.parse_args(argv)
    report = evaluate(args.model, args.test, args.output_dir, args.cost_fp, args.cost_fn)
    print(json.dumps(report["metrics"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
