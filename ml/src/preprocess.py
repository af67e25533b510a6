"""SageMaker Processing: events (+ labels, analyst feedback) -> train/test feature matrices.

Runs the detector's own feature code (anomaly_guardian.ml.features) over history in event-time
order, so training sees exactly the features the detector computes. Paths follow the Processing
contract (/opt/ml/processing/...) and can be overridden for local runs (`make train`).
"""

from __future__ import annotations

import sys

if sys.version_info < (3, 11):  # noqa: UP036 (the job image may be older than this repo's Python)
    sys.exit("anomaly_guardian needs Python >= 3.11: run the job on the image from ml/container/Dockerfile")

import argparse
import json

from anomaly_guardian.ml.jobs import preprocess


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--input-dir", default="/opt/ml/processing/input/data")
    p.add_argument("--output-dir", default="/opt/ml/processing/output")
    p.add_argument("--train-fraction", type=float, default=0.6)
    p.add_argument("--tenant", default="default", help="tenant for rows that are bare events, not envelopes")
    args = p.parse_args(argv)
    summary = preprocess(args.input_dir, args.output_dir, args.train_fraction, args.tenant)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
