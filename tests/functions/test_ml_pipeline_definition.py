"""Given SSM settings (injected reader) and an emulated AWS account (moto: no network, no real AWS),
when the retraining pipeline is built, then its definition has the steps, parameters, champion
condition, KMS and VPC settings we expect."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"
ROLE = "arn:aws:iam::123456789012:role/guardian-sagemaker"
KMS = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
IMAGE = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
SSM = {
    "/anomaly-guardian/test/ml/artifact-bucket": "guardian-ml-test",
    "/anomaly-guardian/test/ml/kms-key-arn": KMS,
    "/anomaly-guardian/test/ml/subnet-ids": "subnet-aaa, subnet-bbb",
    "/anomaly-guardian/test/ml/security-group-ids": "sg-123",
    "/anomaly-guardian/test/ml/model-package-group": "anomaly-guardian-test",
    "/anomaly-guardian/test/ml/sklearn-image-uri": IMAGE,
}


@pytest.fixture
def definition(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("SAGEMAKER_VALIDATE_ROLE", "false")  # no IAM simulation against a fake account
    monkeypatch.syspath_prepend(str(ROOT))
    from ml.pipeline import get_pipeline, stage_source

    with mock_aws():
        boto = boto3.Session(region_name=REGION)
        boto.client("s3").create_bucket(
            Bucket="guardian-ml-test", CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        pipeline = get_pipeline(
            REGION, ROLE, env="test", ssm_reader=SSM.get, boto_session=boto, source_dir=stage_source(tmp_path / "src")
        )
        yield json.loads(pipeline.definition())
    sys.modules.pop("ml.pipeline", None)


def _steps(defn):
    out = {}
    for step in defn["Steps"]:
        out[step["Name"]] = step
        for branch in ("IfSteps", "ElseSteps"):
            for inner in step.get("Arguments", {}).get(branch, []):
                out[inner["Name"]] = inner
    return out


def test_steps_run_preprocess_train_evaluate_then_gate_registration(definition):
    steps = _steps(definition)
    assert [s["Name"] for s in definition["Steps"]] == ["Preprocess", "Train", "Evaluate", "BetterThanChampion"]
    assert steps["Preprocess"]["Type"] == "Processing" and steps["Train"]["Type"] == "Training"
    gate = steps["BetterThanChampion"]["Arguments"]
    (cond,) = gate["Conditions"]
    assert cond["Type"] == "GreaterThanOrEqualTo"
    assert cond["LeftValue"]["Std:JsonGet"]["Path"] == "metrics.pr_auc"
    assert cond["RightValue"] == {"Get": "Parameters.ChampionPrAuc"}
    (register,) = gate["IfSteps"]
    assert register["Name"] == "Register"
    assert register["Type"] == "RegisterModel"
    args = register["Arguments"]
    assert args["ModelPackageGroupName"] == "anomaly-guardian-test"
    assert args["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    (container,) = args["InferenceSpecification"]["Containers"]
    assert container["ModelDataUrl"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    quality = args["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]["Std:Join"]["Values"]
    assert quality[-1] == "evaluation.json"
    assert gate["ElseSteps"] == []


def test_parameters_and_defaults(definition):
    params = {p["Name"]: p for p in definition["Parameters"]}
    assert params["ModelApprovalStatus"]["DefaultValue"] == "PendingManualApproval"
    assert params["ChampionPrAuc"]["Type"] == "Float"
    assert params["InputDataUrl"]["DefaultValue"] == "s3://guardian-ml-test/events/"
    assert {"NEstimators", "Contamination", "TrainingInstanceType", "ProcessingInstanceType"} <= set(params)
    # The template's EventBridge retrain rule passes Environment: it must be a declared parameter.
    assert params["Environment"]["DefaultValue"] == "test"


def test_kms_and_vpc_from_ssm_on_every_job(definition):
    steps = _steps(definition)
    for name in ("Preprocess", "Evaluate"):
        args = steps[name]["Arguments"]
        assert args["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == KMS
        assert args["ProcessingOutputConfig"]["KmsKeyId"] == KMS
        assert args["NetworkConfig"]["VpcConfig"] == {
            "Subnets": ["subnet-aaa", "subnet-bbb"],
            "SecurityGroupIds": ["sg-123"],
        }
    train = steps["Train"]["Arguments"]
    assert train["OutputDataConfig"]["KmsKeyId"] == KMS
    assert train["ResourceConfig"]["VolumeKmsKeyId"] == KMS
    assert train["VpcConfig"]["Subnets"] == ["subnet-aaa", "subnet-bbb"]
    channels = {c["ChannelName"]: c for c in train["InputDataConfig"]}
    assert channels["train"]["DataSource"]["S3DataSource"]["S3Uri"] == {
        "Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"
    }
    assert train["HyperParameters"]["n-estimators"] == {"Get": "Parameters.NEstimators"}


def test_missing_ssm_parameter_is_named(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from ml.pipeline import MlSettings

    with pytest.raises(ValueError, match="/anomaly-guardian/test/ml/kms-key-arn"):
        MlSettings.from_ssm("test", {k: v for k, v in SSM.items() if not k.endswith("kms-key-arn")}.get, REGION)
