"""Create or update the retraining pipeline in SageMaker (and optionally start it): `make ml-pipeline ENV=`.

The execution role comes from the SSM contract (`/anomaly-guardian/<env>/sagemaker/role-arn`), like
every other deployment setting the pipeline reads (see ml/pipeline.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    from ml.pipeline import contract_session, get_pipeline

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--env", required=True, choices=("dev", "staging", "prod"))
    p.add_argument("--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))
    p.add_argument("--start", action="store_true", help="start an execution after the upsert")
    args = p.parse_args(argv)
    session, read, role = contract_session(p, args)
    pipeline = get_pipeline(args.region, role, env=args.env, ssm_reader=read, boto_session=session)
    result = pipeline.upsert(role_arn=role, description="Anomaly Guardian retraining (ml/pipeline.py)")
    out = {"pipelineArn": result.get("PipelineArn")}
    if args.start:
        out["execution"] = str(pipeline.start())
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
