"""Backtests on AWS (docs/backtests.md): the SageMaker Pipeline built offline and upserted on moto, and its
job script (ml/src/backtest.py) run here on a Firehose-shaped archive, one and two instances."""

from __future__ import annotations

import gzip
import importlib.util
import json
import sys
from collections import Counter

import boto3
import pytest
from moto import mock_aws
from test_ml_pipeline_definition import KMS, REGION, ROLE, ROOT, SSM

from anomaly_guardian.ingest.envelope import encode_record
from anomaly_guardian.scenario.generator import generate


@pytest.fixture
def aws_env(monkeypatch):
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "SAGEMAKER_VALIDATE_ROLE": "false",
    }.items():
        monkeypatch.setenv(k, v)
    monkeypatch.syspath_prepend(str(ROOT))
    yield
    for mod in ("ml.backtest", "ml.pipeline"):
        sys.modules.pop(mod, None)


def test_given_the_contract_when_the_backtest_pipeline_is_built_then_one_replay_job_over_the_archive(aws_env, tmp_path):
    from ml.backtest import get_backtest_pipeline
    from ml.pipeline import stage_source

    with mock_aws():
        boto = boto3.Session(region_name=REGION)
        boto.client("s3").create_bucket(
            Bucket="guardian-ml-test", CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        pipeline = get_backtest_pipeline(
            REGION, ROLE, env="test", ssm_reader=SSM.get, boto_session=boto, source_dir=stage_source(tmp_path / "src")
        )
        definition = json.loads(pipeline.definition())
    (step,) = definition["Steps"]
    assert step["Name"] == "Backtest" and step["Type"] == "Processing"
    args = step["Arguments"]
    (archive,) = [i for i in args["ProcessingInputs"] if i["InputName"] == "archive"]
    s3 = archive["S3Input"]
    assert s3["S3Uri"] == {"Get": "Parameters.ArchiveUri"} and s3["S3DataDistributionType"] == "FullyReplicated"
    assert s3["LocalPath"] == "/opt/ml/processing/input/archive" and s3["S3DataType"] == "S3Prefix"
    cluster = args["ProcessingResources"]["ClusterConfig"]
    assert cluster["InstanceCount"] == {"Get": "Parameters.InstanceCount"}
    assert cluster["InstanceType"] == {"Get": "Parameters.InstanceType"} and cluster["VolumeKmsKeyId"] == KMS
    assert args["NetworkConfig"]["VpcConfig"]["Subnets"] == ["subnet-aaa", "subnet-bbb"]
    assert args["ProcessingOutputConfig"]["KmsKeyId"] == KMS
    (out,) = args["ProcessingOutputConfig"]["Outputs"]
    uri = out["S3Output"]["S3Uri"]["Std:Join"]["Values"]
    assert uri[0] == "s3://guardian-ml-test/backtests/anomaly-guardian-test-backtest" and uri[1] == "runs"
    assert "--workers" in args["AppSpecification"]["ContainerArguments"]
    params = {p["Name"]: p for p in definition["Parameters"]}
    assert params["ArchiveUri"]["DefaultValue"] == "s3://guardian-ml-test/events/"
    assert params["InstanceCount"]["DefaultValue"] == 1 and params["Workers"]["DefaultValue"] == 0
    staged = {p.name for p in (tmp_path / "src").iterdir()}
    assert "backtest.py" in staged and (tmp_path / "src/anomaly_guardian/replay_workers.py").exists()


def test_given_a_deployed_contract_when_upserted_and_started_then_an_execution_with_the_range(aws_env, capsys):
    with mock_aws():
        ssm = boto3.client("ssm", region_name=REGION)
        for name, value in SSM.items():
            ssm.put_parameter(Name=name.replace("/test/", "/dev/"), Value=value, Type="String")
        ssm.put_parameter(Name="/anomaly-guardian/dev/sagemaker/role-arn", Value=ROLE, Type="String")
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket="guardian-ml-test", CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        from ml import backtest

        argv = ["--env", "dev", "--region", REGION, "--instances", "3", "--start"]
        assert backtest.main([*argv, "--archive-uri", "s3://archive/events/dt=2026-0"]) == 0
        out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        sm = boto3.client("sagemaker", region_name=REGION)
        described = sm.describe_pipeline(PipelineName="anomaly-guardian-dev-backtest")
        assert described["PipelineArn"] == out["pipelineArn"] and described["RoleArn"] == ROLE
        (run,) = sm.list_pipeline_executions(PipelineName="anomaly-guardian-dev-backtest")["PipelineExecutionSummaries"]
        given = sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=run["PipelineExecutionArn"])
        values = {p["Name"]: p["Value"] for p in given["PipelineParameters"]}
        assert values["ArchiveUri"] == "s3://archive/events/dt=2026-0" and values["InstanceCount"] == "3"


def archive(tmp_path):
    """Three tenants' generated events as Firehose writes them: gzip objects of concatenated envelopes."""
    rows = []
    for seed, tenant in enumerate(("acme", "globex", "initech", "umbrella"), start=31):
        rows += [(e["timestamp"], encode_record(tenant, e, e["timestamp"])) for e in generate(1200, seed=seed).events]
    rows.sort()
    root = tmp_path / "archive"
    for part in range(4):
        day = root / "events" / f"dt=2026-03-0{2 + part // 2}"
        day.mkdir(parents=True, exist_ok=True)
        body = b"".join(r for _, r in rows[part::4])
        if part == 1:
            body += b'{"tenantId":"acme","event":'  # a truncated record at the end of an object
        (day / f"archive-1-2026-03-0{2 + part // 2}-00-0{part}-00-x.gz").write_bytes(gzip.compress(body))
    return root


def load_script():
    spec = importlib.util.spec_from_file_location("backtest_job", ROOT / "ml" / "src" / "backtest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_given_an_archive_when_the_job_runs_on_two_instances_then_together_they_give_the_one_instance_output(
    tmp_path,
):
    job, src = load_script(), archive(tmp_path)
    assert job.main(["--input-dir", str(src), "--output-dir", str(tmp_path / "one"), "--workers", "2"]) == 0
    hosts = ["algo-1", "algo-2"]
    for host in hosts:
        config = tmp_path / f"{host}.json"
        config.write_text(json.dumps({"current_host": host, "hosts": hosts}))
        argv = ["--input-dir", str(src), "--output-dir", str(tmp_path / "two"), "--resource-config", str(config)]
        assert job.main(argv) == 0

    def anomalies(path):
        return Counter((a["tenantId"], a["anomalyId"], a["anomalyScore"]) for a in map(json.loads, path.open()))

    one = anomalies(tmp_path / "one/anomalies-local.jsonl")
    parts = [anomalies(tmp_path / f"two/anomalies-{h}.jsonl") for h in hosts]
    assert sum(parts, Counter()) == one and len(one) > 20
    assert not {t for t, _, _ in parts[0]} & {t for t, _, _ in parts[1]}  # each tenant on one instance
    summary = json.loads((tmp_path / "one/summary-local.json").read_text())
    shares = [json.loads((tmp_path / f"two/summary-{h}.json").read_text()) for h in hosts]
    assert summary["partition"] == "0/1" and [s["partition"] for s in shares] == ["0/2", "1/2"]
    for key in ("events", "rejected", "anomalies", "records"):
        assert sum(s[key] for s in shares) == summary[key]
    assert summary["rejected"] == 1 and summary["tenants"] == 4
    (error,) = summary["errors"]
    assert error.startswith(f"{src}/events/dt=2026-03-02/archive-1-2026-03-02-00-01-00-x.gz: record ")
    assert "Malformed JSON" in error
