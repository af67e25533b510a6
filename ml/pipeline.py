"""SageMaker Pipeline factory: preprocess -> train -> evaluate -> (PR-AUC >= champion) -> register.

SDK line: sagemaker v3 (3.27, the modular sagemaker-core / sagemaker-train / sagemaker-mlops
packages), see README "Machine learning". Settings that belong to the deployment (bucket, KMS key,
VPC subnets and security groups, model package group, container image) come from the SSM contract
`/anomaly-guardian/<env>/ml/...`; `ssm_reader` is injected so the definition builds offline.

    from ml.pipeline import get_pipeline
    pipeline = get_pipeline(region="eu-west-1", role_arn=ROLE, env="prod")
    pipeline.upsert(role_arn=ROLE)        # then: pipeline.start()
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "ml" / "src"
PACKAGE = ROOT / "layers" / "core" / "anomaly_guardian"

SsmReader = Callable[[str], str | None]

# Parameter names under /anomaly-guardian/<env>/ (published by terraform's ssm contract module).
SSM_NAMES = {
    "bucket": "ml/artifact-bucket",
    "kms_key": "ml/kms-key-arn",
    "subnets": "ml/subnet-ids",
    "security_groups": "ml/security-group-ids",
    "package_group": "ml/model-package-group",
    "image_uri": "ml/sklearn-image-uri",
    "events_uri": "ml/training-data-uri",
    "pipeline_name": "ml/pipeline-name",
}


def default_pipeline_name(env: str) -> str:
    """The contract's `ml/pipeline-name` as Terraform writes it (terraform/modules/platform: local.pipeline_name)."""
    return f"anomaly-guardian-{env}-retrain"


@dataclass(slots=True)
class MlSettings:
    bucket: str
    kms_key: str
    subnets: list[str]
    security_groups: list[str]
    package_group: str
    image_uri: str
    events_uri: str
    pipeline_name: str = ""

    @classmethod
    def from_ssm(cls, env: str, read: SsmReader, region: str) -> MlSettings:
        def get(name: str, required: bool = True) -> str:
            path = f"/anomaly-guardian/{env}/{SSM_NAMES[name]}"
            value = read(path)
            if required and not value:
                raise ValueError(f"SSM parameter {path} is missing or empty (published by terraform's ssm contract)")
            return value or ""

        # The project's job image (ml/container, `make ml-image`): the prebuilt SageMaker scikit-learn
        # images ship Python 3.9/3.10, on which the jobs cannot run.
        image = get("image_uri")
        if image.endswith(":not-built"):
            raise ValueError(
                f"the ML job image for {env} is not built yet ({image}): run `make ml-image ENV={env}` "
                "(or the ml workflow), which writes its URI into ml/sklearn-image-uri"
            )
        bucket = get("bucket")
        return cls(
            bucket=bucket,
            kms_key=get("kms_key"),
            subnets=_split(get("subnets")),
            security_groups=_split(get("security_groups")),
            package_group=get("package_group"),
            image_uri=image,
            events_uri=get("events_uri", required=False) or f"s3://{bucket}/events/",
            pipeline_name=get("pipeline_name", required=False) or default_pipeline_name(env),
        )


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def boto_ssm_reader(boto_session: Any) -> SsmReader:
    ssm = boto_session.client("ssm")

    def read(name: str) -> str | None:
        try:
            return ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        except ssm.exceptions.ParameterNotFound:
            return None

    return read


def contract_session(parser: Any, args: Any) -> tuple[Any, SsmReader, str]:
    """The CLIs' (make ml-pipeline, make ml-backtest) boto3 session, SSM contract reader and SageMaker role,
    or a parser error that says what to do."""
    import boto3

    if not args.region:
        parser.error("no region: pass --region or set AWS_REGION")
    session = boto3.Session(region_name=args.region)
    read = boto_ssm_reader(session)
    role_param = f"/anomaly-guardian/{args.env}/sagemaker/role-arn"
    role = read(role_param)
    if not role:
        parser.error(f"SSM parameter {role_param} is missing: deploy the Terraform environment first")
    return session, read, role


def stage_source(target: Path | None = None) -> Path:
    """ml/src scripts plus the anomaly_guardian package in one directory: what each job runs."""
    target = target or Path(tempfile.mkdtemp(prefix="guardian-ml-src-"))
    target.mkdir(parents=True, exist_ok=True)
    for script in SRC.glob("*.py"):
        shutil.copy2(script, target / script.name)
    shutil.copytree(
        PACKAGE,
        target / "anomaly_guardian",
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "local", "api", "response"),
    )
    return target


def get_pipeline(
    region: str,
    role_arn: str,
    env: str = "dev",
    pipeline_name: str | None = None,
    ssm_reader: SsmReader | None = None,
    boto_session: Any = None,
    sagemaker_session: Any = None,
    source_dir: Path | None = None,
) -> Any:
    import boto3
    from sagemaker.core.network import NetworkConfig
    from sagemaker.core.processing import FrameworkProcessor
    from sagemaker.core.shapes import ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output
    from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.core.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.model_step import ModelStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import ProcessingStep, TrainingStep
    from sagemaker.train.configs import Compute, InputData, Networking, SourceCode
    from sagemaker.train.model_trainer import ModelTrainer

    boto_session = boto_session or boto3.Session(region_name=region)
    settings = MlSettings.from_ssm(env, ssm_reader or boto_ssm_reader(boto_session), region)
    name = pipeline_name or settings.pipeline_name  # the contract's name: the SAM retrain rule targets it
    session = sagemaker_session or PipelineSession(
        boto_session=boto_session, default_bucket=settings.bucket, default_bucket_prefix=f"pipelines/{name}"
    )
    src = source_dir or stage_source()
    prefix = f"s3://{settings.bucket}/pipelines/{name}"

    input_uri = ParameterString("InputDataUrl", default_value=settings.events_uri)
    processing_type = ParameterString("ProcessingInstanceType", default_value="ml.m5.xlarge")
    training_type = ParameterString("TrainingInstanceType", default_value="ml.m5.xlarge")
    n_estimators = ParameterInteger("NEstimators", default_value=100)
    contamination = ParameterFloat("Contamination", default_value=0.01)
    champion_pr_auc = ParameterFloat("ChampionPrAuc", default_value=0.0)
    approval = ParameterString("ModelApprovalStatus", default_value="PendingManualApproval")
    cost_fp = ParameterFloat("CostFalsePositive", default_value=1.0)
    cost_fn = ParameterFloat("CostFalseNegative", default_value=25.0)
    # Set by the EventBridge retrain rule (SageMakerPipelineParameters); recorded on every job.
    environment = ParameterString("Environment", default_value=env)
    params = [
        environment,
        input_uri,
        processing_type,
        training_type,
        n_estimators,
        contamination,
        champion_pr_auc,
        approval,
        cost_fp,
        cost_fn,
    ]

    network = NetworkConfig(
        enable_network_isolation=False,
        subnets=settings.subnets,
        security_group_ids=settings.security_groups,
        encrypt_inter_container_traffic=True,
    )

    def processor(base: str) -> Any:
        return FrameworkProcessor(
            image_uri=settings.image_uri,
            role=role_arn,
            instance_count=1,
            instance_type=processing_type,
            command=["python3"],
            volume_kms_key=settings.kms_key,
            output_kms_key=settings.kms_key,
            base_job_name=f"guardian-{base}",
            sagemaker_session=session,
            network_config=network,
            code_location=f"{prefix}/code",
            max_runtime_in_seconds=3600,
            env={"GUARDIAN_ENVIRONMENT": environment},
        )

    def s3_in(name_: str, uri: Any, local: str) -> Any:
        return ProcessingInput(
            input_name=name_,
            s3_input=ProcessingS3Input(s3_uri=uri, local_path=local, s3_data_type="S3Prefix", s3_input_mode="File"),
        )

    def s3_out(name_: str, local: str, uri: Any) -> Any:
        return ProcessingOutput(
            output_name=name_, s3_output=ProcessingS3Output(s3_uri=uri, local_path=local, s3_upload_mode="EndOfJob")
        )

    run_prefix = Join(on="/", values=[prefix, "runs", _execution_id()])
    pre = ProcessingStep(
        name="Preprocess",
        step_args=processor("preprocess").run(
            code="preprocess.py",
            source_dir=str(src),
            inputs=[s3_in("events", input_uri, "/opt/ml/processing/input/data")],
            outputs=[
                s3_out("train", "/opt/ml/processing/output/train", Join(on="/", values=[run_prefix, "train"])),
                s3_out("test", "/opt/ml/processing/output/test", Join(on="/", values=[run_prefix, "test"])),
            ],
            arguments=["--input-dir", "/opt/ml/processing/input/data", "--output-dir", "/opt/ml/processing/output"],
        ),
    )

    trainer = ModelTrainer(
        sagemaker_session=session,
        role=role_arn,
        training_image=settings.image_uri,
        base_job_name="guardian-train",
        source_code=SourceCode(source_dir=str(src), entry_script="train.py"),
        compute=Compute(instance_type=training_type, instance_count=1, volume_kms_key_id=settings.kms_key),
        networking=Networking(
            subnets=settings.subnets,
            security_group_ids=settings.security_groups,
            enable_inter_container_traffic_encryption=True,
        ),
        hyperparameters={"n-estimators": n_estimators, "contamination": contamination},
        output_data_config=_output_config(f"{prefix}/models", settings.kms_key),
    )
    train = TrainingStep(
        name="Train",
        step_args=trainer.train(
            input_data_config=[
                InputData(
                    channel_name="train",
                    data_source=pre.properties.ProcessingOutputConfig.Outputs["train"].S3Output.S3Uri,
                )
            ]
        ),
    )

    evaluation = PropertyFile(name="Evaluation", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        name="Evaluate",
        step_args=processor("evaluate").run(
            code="evaluate.py",
            source_dir=str(src),
            inputs=[
                s3_in("model", train.properties.ModelArtifacts.S3ModelArtifacts, "/opt/ml/processing/model"),
                s3_in(
                    "test",
                    pre.properties.ProcessingOutputConfig.Outputs["test"].S3Output.S3Uri,
                    "/opt/ml/processing/test",
                ),
            ],
            outputs=[
                s3_out("evaluation", "/opt/ml/processing/evaluation", Join(on="/", values=[run_prefix, "evaluation"]))
            ],
            arguments=[
                "--model",
                "/opt/ml/processing/model",
                "--test",
                "/opt/ml/processing/test",
                "--output-dir",
                "/opt/ml/processing/evaluation",
                "--cost-fp",
                cost_fp.to_string(),
                "--cost-fn",
                cost_fn.to_string(),
            ],
        ),
        property_files=[evaluation],
    )

    register = ModelStep(
        name="Register", step_args=_register_args(session, role_arn, settings, train, evaluate, approval)
    )

    better = ConditionGreaterThanOrEqualTo(
        left=JsonGet(step_name=evaluate.name, property_file=evaluation, json_path="metrics.pr_auc"),
        right=champion_pr_auc,
    )
    gate = ConditionStep(name="BetterThanChampion", conditions=[better], if_steps=[register], else_steps=[])
    return Pipeline(name=name, parameters=params, steps=[pre, train, evaluate, gate], sagemaker_session=session)


def _execution_id() -> Any:
    from sagemaker.core.workflow.execution_variables import ExecutionVariables

    return ExecutionVariables.PIPELINE_EXECUTION_ID


def _output_config(path: str, kms_key: str) -> Any:
    from sagemaker.core import shapes

    return shapes.OutputDataConfig(s3_output_path=path, kms_key_id=kms_key, compression_type="GZIP")


def _register_args(session: Any, role_arn: str, settings: MlSettings, train: Any, evaluate: Any, approval: Any) -> Any:
    from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.core.workflow.functions import Join
    from sagemaker.serve.model_builder import ModelBuilder

    evaluation_uri = Join(
        on="/",
        values=[evaluate.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri, "evaluation.json"],
    )
    builder = ModelBuilder(
        image_uri=settings.image_uri,
        s3_model_data_url=train.properties.ModelArtifacts.S3ModelArtifacts,
        role_arn=role_arn,
        sagemaker_session=session,
        env_vars={
            "SAGEMAKER_PROGRAM": "inference.py",
            "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
            "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "application/json",
        },
    )
    return builder.register(
        model_package_group_name=settings.package_group,
        content_types=["application/json"],
        response_types=["application/json"],
        inference_instances=["ml.m5.large"],
        transform_instances=["ml.m5.large"],
        approval_status=approval,
        model_metrics=ModelMetrics(
            model_statistics=MetricsSource(content_type="application/json", s3_uri=evaluation_uri)
        ),
        description="Anomaly Guardian Isolation Forest + sequence autoencoder (NumPy-exported arrays)",
    )
