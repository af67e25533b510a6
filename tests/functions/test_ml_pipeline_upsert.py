"""`make ml-pipeline`: ml/upsert.py reads the SSM contract and upserts/starts the pipeline (moto)."""

from __future__ import annotations

import json
import sys

import boto3
from moto import mock_aws
from test_ml_pipeline_definition import REGION, ROLE, ROOT, SSM


def test_upsert_reads_the_contract_creates_and_starts_the_pipeline(monkeypatch, capsys):
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "SAGEMAKER_VALIDATE_ROLE": "false",
    }.items():
        monkeypatch.setenv(k, v)
    monkeypatch.syspath_prepend(str(ROOT))
    with mock_aws():
        ssm = boto3.client("ssm", region_name=REGION)
        for name, value in SSM.items():
            ssm.put_parameter(Name=name.replace("/test/", "/dev/"), Value=value, Type="String")
        ssm.put_parameter(Name="/anomaly-guardian/dev/sagemaker/role-arn", Value=ROLE, Type="String")
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket="guardian-ml-test", CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        from ml import upsert

        assert upsert.main(["--env", "dev", "--region", REGION, "--start"]) == 0

        out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        sm = boto3.client("sagemaker", region_name=REGION)
        described = sm.describe_pipeline(PipelineName="anomaly-guardian-dev-retrain")
        definition = json.loads(described["PipelineDefinition"])
        assert [s["Name"] for s in definition["Steps"]][-1] == "BetterThanChampion"
        assert described["RoleArn"] == ROLE and out["pipelineArn"] == described["PipelineArn"]
        assert (
            len(sm.list_pipeline_executions(PipelineName="anomaly-guardian-dev-retrain")["PipelineExecutionSummaries"])
            == 1
        )
    for mod in ("ml.upsert", "ml.pipeline"):
        sys.modules.pop(mod, None)
