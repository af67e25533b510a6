"""Journey: drift -> retraining started, on the local stack.

Given a promoted model (registered and approved with `guardian model`) and a day of live feature
samples in the reports bucket, where the detector's sample sink writes them, whose amounts are twenty
times those of the training data, when the daily drift check runs (`guardian schedules run`, the
template's cron schedule on the local clock), then the drift monitor publishes ModelDriftDetected on
the stack's bus, the template's RetrainOnDriftRule matches it and starts the retraining pipeline named
by the contract (the local stand-in of `make ml-pipeline`'s pipeline).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import UTC, datetime

import boto3
import numpy as np
from local_helpers import wait_for

from anomaly_guardian.ml.features import FEATURES
from anomaly_guardian.ml.synth import Generator
from anomaly_guardian.ml.training import fit_bundle, parse_stream, replay_features


def guardian(local_stack, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "anomaly_guardian.cli", *argv, "--state-dir", str(local_stack.state_dir)],
        capture_output=True,
        text=True,
        timeout=90,
    )


def test_drifted_live_features_start_the_retraining_pipeline(local_stack, tmp_path):
    aws = {
        "endpoint_url": local_stack.aws_endpoint_url,
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    env = json.loads((local_stack.state_dir / "env.json").read_text())["DriftMonitorFunction"]
    events = [e for e, _ in Generator(users=50, days=6, seed=5, anomaly_rate=0.0).events()]
    rep = replay_features(parse_stream(events, default_tenant="t1"))
    bundle = fit_bundle(rep.X, rep.seq, n_estimators=15, ae_hidden=(8,), seed=2)
    bundle.metadata["modelVersion"] = "drift-journey"
    model = tmp_path / "model.npz"
    model.write_bytes(bundle.to_bytes())
    assert guardian(local_stack, "model", "register", "--local", str(model)).returncode == 0
    approved = guardian(local_stack, "model", "approve", "--latest", "--local")
    assert approved.returncode == 0, approved.stderr

    def live() -> bool:
        out = guardian(local_stack, "model", "status", "--local")
        return (json.loads(out.stdout).get("live") or {}).get("model-version") == "drift-journey"

    assert wait_for(live, timeout=20), "model not promoted"

    # A day of live samples, as the detector's S3SampleSink writes them, with amounts 20x the training ones.
    live_rows = rep.X[:1500].copy()
    live_rows[:, FEATURES.index("log_amount")] += 3.0
    buf = io.BytesIO()
    np.save(buf, live_rows, allow_pickle=False)
    key = f"features/drift-journey/{datetime.now(UTC):%Y/%m/%d/%H}/journey.npy"
    boto3.client("s3", **aws).put_object(Bucket=env["FEATURE_SAMPLE_BUCKET"], Key=key, Body=buf.getvalue())

    sm = boto3.client("sagemaker", **aws)
    pipeline = env["RETRAIN_PIPELINE_NAME"]

    def executions() -> list[dict]:
        return sm.list_pipeline_executions(PipelineName=pipeline)["PipelineExecutionSummaries"]

    arns_before = {e["PipelineExecutionArn"] for e in executions()}
    before = len(arns_before)
    delivered = local_stack.stats()["deliveries"].get("RetrainOnDriftRule.retrain", 0)
    ran = guardian(local_stack, "schedules", "run", "anomaly-guardian-local-drift-check")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    result = json.loads(ran.stdout)
    assert result["ok"] is True, result
    assert wait_for(lambda: len(executions()) == before + 1, timeout=15), "the retrain pipeline was not started"
    assert local_stack.stats()["deliveries"].get("RetrainOnDriftRule.retrain", 0) == delivered + 1
    started = {e["PipelineExecutionArn"] for e in executions()}
    (newest,) = [a for a in started if a not in arns_before]
    params = sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=newest)["PipelineParameters"]
    assert [p["Name"] for p in params] == ["Environment"] and params[0]["Value"]  # the rule's parameter
