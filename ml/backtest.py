"""Backtests over months of the event archive: a one-step SageMaker Pipeline around `guardian replay`.

The step is a Processing job on the ML job image (ml/container) running ml/src/backtest.py, which calls
`anomaly_guardian.replay_workers.replay_partitioned`, the code behind `guardian replay --workers N`.
Its input is an archive range, `ArchiveUri` (an S3 key prefix: `s3://<archive>/events/dt=2026-0` is the
first nine months of 2026, as Firehose writes `events/dt=YYYY-MM-DD/`), copied whole to every instance
(FullyReplicated); instance i of `InstanceCount` replays the tenants of partition i, on every core.
Why not ShardedByS3Key or a Step Functions Distributed Map over the objects: an archive object holds
five minutes of every tenant, so a split by object is a split by time, and a tenant's state (windows,
baselines, calibration) would restart in every slice. The tenant is the unit (docs/backtests.md).

Settings come from the SSM contract like ml/pipeline.py's (same image, KMS key, subnets and role);
the outputs go under `s3://<ml bucket>/backtests/<pipeline>/runs/<execution id>/`.

    python ml/backtest.py --env prod --archive-uri s3://BUCKET/events/dt=2026-0 --instances 4 --start
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml.pipeline import MlSettings, SsmReader, _execution_id, boto_ssm_reader, contract_session, stage_source

INPUT = "/opt/ml/processing/input/archive"
OUTPUT = "/opt/ml/processing/output"


def backtest_pipeline_name(env: str) -> str:
    return f"anomaly-guardian-{env}-backtest"


def get_backtest_pipeline(
    region: str,
    role_arn: str,
    env: str = "dev",
    ssm_reader: SsmReader | None = None,
    boto_session: Any = None,
    sagemaker_session: Any = None,
    source_dir: Path | None = None,
) -> Any:
    import boto3
    from sagemaker.core.network import NetworkConfig
    from sagemaker.core.processing import FrameworkProcessor
    from sagemaker.core.shapes import ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output
    from sagemaker.core.workflow.functions import Join
    from sagemaker.core.workflow.parameters import ParameterInteger, ParameterString
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import ProcessingStep

    boto_session = boto_session or boto3.Session(region_name=region)
    settings = MlSettings.from_ssm(env, ssm_reader or boto_ssm_reader(boto_session), region)
    name = backtest_pipeline_name(env)
    session = sagemaker_session or PipelineSession(
        boto_session=boto_session, default_bucket=settings.bucket, default_bucket_prefix=f"backtests/{name}"
    )
    src = source_dir or stage_source()
    prefix = f"s3://{settings.bucket}/backtests/{name}"

    archive = ParameterString("ArchiveUri", default_value=settings.events_uri)
    instances = ParameterInteger("InstanceCount", default_value=1)
    instance_type = ParameterString("InstanceType", default_value="ml.c5.9xlarge")
    volume_gb = ParameterInteger("VolumeSizeGb", default_value=200)  # the archive range, decompressed twice
    workers = ParameterInteger("Workers", default_value=0)  # 0: one per core of the instance
    max_runtime = ParameterInteger("MaxRuntimeSeconds", default_value=86400)
    environment = ParameterString("Environment", default_value=env)

    processor = FrameworkProcessor(
        image_uri=settings.image_uri,
        role=role_arn,
        instance_count=instances,
        instance_type=instance_type,
        volume_size_in_gb=volume_gb,
        command=["python3"],
        volume_kms_key=settings.kms_key,
        output_kms_key=settings.kms_key,
        base_job_name="guardian-backtest",
        sagemaker_session=session,
        network_config=NetworkConfig(
            enable_network_isolation=False,
            subnets=settings.subnets,
            security_group_ids=settings.security_groups,
            encrypt_inter_container_traffic=True,
        ),
        code_location=f"{prefix}/code",
        max_runtime_in_seconds=max_runtime,
        env={"GUARDIAN_ENVIRONMENT": environment},
    )
    run_uri = Join(on="/", values=[prefix, "runs", _execution_id()])
    step = ProcessingStep(
        name="Backtest",
        step_args=processor.run(
            code="backtest.py",
            source_dir=str(src),
            inputs=[
                ProcessingInput(
                    input_name="archive",
                    s3_input=ProcessingS3Input(
                        s3_uri=archive,
                        local_path=INPUT,
                        s3_data_type="S3Prefix",
                        s3_input_mode="File",
                        s3_data_distribution_type="FullyReplicated",
                    ),
                )
            ],
            outputs=[
                ProcessingOutput(
                    output_name="anomalies",
                    s3_output=ProcessingS3Output(s3_uri=run_uri, local_path=OUTPUT, s3_upload_mode="EndOfJob"),
                )
            ],
            arguments=["--input-dir", INPUT, "--output-dir", OUTPUT, "--workers", workers.to_string()],
        ),
    )
    return Pipeline(
        name=name,
        parameters=[environment, archive, instances, instance_type, volume_gb, workers, max_runtime],
        steps=[step],
        sagemaker_session=session,
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", required=True, choices=("dev", "staging", "prod"))
    p.add_argument("--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))
    p.add_argument("--archive-uri", help="S3 key prefix of the archive range (default: the whole events/ prefix)")
    p.add_argument("--instances", type=int, default=1)
    p.add_argument("--instance-type", default=None)
    p.add_argument("--start", action="store_true", help="start an execution after the upsert")
    args = p.parse_args(argv)
    session, read, role = contract_session(p, args)
    pipeline = get_backtest_pipeline(args.region, role, env=args.env, ssm_reader=read, boto_session=session)
    result = pipeline.upsert(role_arn=role, description="Anomaly Guardian backtest: guardian replay over the archive")
    out: dict[str, Any] = {"pipelineArn": result.get("PipelineArn")}
    if args.start:
        params: dict[str, Any] = {"InstanceCount": args.instances}
        if args.archive_uri:
            params["ArchiveUri"] = args.archive_uri
        if args.instance_type:
            params["InstanceType"] = args.instance_type
        out["execution"] = str(pipeline.start(parameters=params))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
