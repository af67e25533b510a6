"""Drift monitor Lambda on emulated AWS (moto): S3 model + feature samples, the Anomalies table with
analyst feedback; a retrain request goes onto the application bus, the template's RetrainOnDriftRule
(its own pattern, on moto's EventBridge) matches it, and its SageMaker pipeline target starts the
pipeline (applied as EventBridge applies it: template_rules.start_pipeline_target)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from template_rules import capture, delivered, resource, start_pipeline_target

from anomaly_guardian.ml.features import FEATURES
from anomaly_guardian.ml.synth import Generator
from anomaly_guardian.ml.training import fit_bundle, parse_stream, replay_features
from anomaly_guardian.models.anomaly import Anomaly

BUCKET = "guardian-ml-test"
PIPELINE = "anomaly-guardian-test-retrain"
BUS = "anomaly-guardian-test-events"


@pytest.fixture(scope="module")
def training():
    events = [e for e, _ in Generator(users=60, days=6, seed=5, anomaly_rate=0.0).events()]
    rep = replay_features(parse_stream(events, default_tenant="t1"))
    return fit_bundle(rep.X, rep.seq, n_estimators=10, ae_hidden=(8,), seed=0), rep.X


@pytest.fixture
def ml_env(tables, monkeypatch, training):
    from anomaly_guardian.adapters import ml_artifacts
    from anomaly_guardian.adapters.dynamodb import client

    ml_artifacts.reset_clients()
    bundle, _X = training
    s3 = client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="models/current/model.npz", Body=bundle.to_bytes())
    client("sagemaker").create_pipeline(
        PipelineName=PIPELINE,
        RoleArn="arn:aws:iam::123456789012:role/guardian-sagemaker",
        PipelineDefinition=json.dumps(
            {
                "Version": "2020-12-01",
                "Parameters": [
                    {"Name": "ChampionPrAuc", "Type": "Float", "DefaultValue": 0.0},
                    {"Name": "Environment", "Type": "String", "DefaultValue": "dev"},
                ],
                "Steps": [],
            }
        ),
    )
    for name, value in {
        "MODEL_BUCKET": BUCKET,
        "MODEL_KEY": "models/current/model.npz",
        "FEATURE_SAMPLE_BUCKET": BUCKET,
        "TRAINING_DATA_URI": f"s3://{BUCKET}/training/events/",
        "TRAINING_TENANTS": "t1",
        "RETRAIN_PIPELINE_NAME": PIPELINE,
        "EVENT_BUS_NAME": BUS,
        "MIN_SAMPLE_ROWS": "200",
        "POWERTOOLS_METRICS_NAMESPACE": "AnomalyGuardian",
    }.items():
        monkeypatch.setenv(name, value)
    client("events").create_event_bus(Name=BUS)
    rule = resource("RetrainOnDriftRule", {"RetrainPipelineName": PIPELINE, "Environment": "test", "EventBus": BUS})[
        "Properties"
    ]
    queue = capture("retrain-on-drift", rule["EventPattern"], bus=BUS)
    yield {"bundle": bundle, "queue": queue, "target": rule["Targets"][0]}
    ml_artifacts.reset_clients()


def _write_samples(bundle, X):
    from anomaly_guardian.adapters.ml_artifacts import S3SampleSink

    sink = S3SampleSink(BUCKET, prefix=f"features/{bundle.version}/", rate=1.0, max_rows=10**9)
    sink.add(X)
    return sink.flush()


def _emf(capsys):
    docs = []
    for line in capsys.readouterr().out.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            docs.append(json.loads(line))
    return docs


def _value(v):
    return v[0] if isinstance(v, list) else v


def _executions():
    from anomaly_guardian.adapters.dynamodb import client

    return client("sagemaker").list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"]


def _feedback(tenant="t1"):
    from anomaly_guardian.adapters.anomalies import AnomalyRepository

    repo = AnomalyRepository("test-anomalies")
    made = []
    for i, label in enumerate(["true_positive", "false_positive", None]):
        a = Anomaly(
            tenantId=tenant,
            severity="HIGH",
            anomalyScore=0.8,
            userId="u_x",
            anomalyType="ml",
            description="d",
            originalEvent={"eventId": f"ev-{i}", "timestamp": "2026-11-20T22:00:00Z", "eventType": "login"},
            detector="ml",
        )
        repo.put_many([a])
        if label:
            repo.set_feedback(tenant, a.anomalyId, {"label": label, "note": "", "submittedBy": "analyst"})
        made.append(a)
    return made


def retrain_rule_runs(ml_env) -> list[dict]:
    """The events the RetrainOnDriftRule matched; its pipeline target applied once per event."""
    events = delivered(ml_env["queue"])
    for _ in events:
        start_pipeline_target(ml_env["target"])
    return events


def test_drifted_features_are_published_and_start_retraining_with_feedback(
    ml_env, training, handler_module, event_fixture, lambda_context, capsys
):
    bundle, X = training
    live = X[:1500].copy()
    col = FEATURES.index("log_amount")
    live[:, col] = live[:, col] + 3.0  # amounts twenty times larger than in training
    _write_samples(bundle, live)
    _feedback()
    app = handler_module("drift_monitor")

    result = app.lambda_handler(event_fixture("eventbridge_scheduled_drift_check.json"), lambda_context)

    assert result["status"] == "drift" and "log_amount" in result["drifted"]
    assert result["psi"]["log_amount"] > 0.25
    docs = _emf(capsys)
    per_feature = {d["Feature"]: _value(d["FeaturePSI"]) for d in docs if "FeaturePSI" in d}
    assert set(per_feature) == set(FEATURES)
    assert per_feature["log_amount"] > 0.25
    assert any(_value(d.get("DriftedFeatures", 0)) >= 1 for d in docs)
    assert result["retrain"]["feedbackRows"] == 2

    (event,) = retrain_rule_runs(ml_env)
    assert event["source"] == "anomaly-guardian.drift" and event["detail-type"] == "ModelDriftDetected"
    assert event["id"] == result["retrain"]["requested"]
    detail = event["detail"]
    assert detail["reason"] == "drift" and "log_amount" in detail["drifted"] and detail["pipeline"] == PIPELINE
    assert detail["modelVersion"] == bundle.version and detail["feedbackRows"] == 2
    (execution,) = _executions()
    from anomaly_guardian.adapters.dynamodb import client

    params = client("sagemaker").list_pipeline_parameters_for_execution(
        PipelineExecutionArn=execution["PipelineExecutionArn"]
    )["PipelineParameters"]
    assert {"Name": "Environment", "Value": "test"} in params

    body = client("s3").get_object(Bucket=BUCKET, Key="training/events/feedback.jsonl")["Body"].read()
    rows = [json.loads(line) for line in body.decode().splitlines()]
    assert sorted((r["eventId"], r["label"]) for r in rows) == [("ev-0", "true_positive"), ("ev-1", "false_positive")]
    assert all("userId" not in r for r in rows)


def test_stable_features_do_not_retrain(ml_env, training, handler_module, event_fixture, lambda_context, capsys):
    bundle, X = training
    _write_samples(bundle, X[np.random.default_rng(0).choice(len(X), min(len(X), 2000), replace=False)])
    app = handler_module("drift_monitor")

    result = app.lambda_handler(event_fixture("eventbridge_scheduled_drift_check.json"), lambda_context)

    assert result["status"] == "stable", {k: v for k, v in result["psi"].items() if v > 0.05}
    assert result["drifted"] == []
    assert max(result["psi"].values()) < 0.1
    assert retrain_rule_runs(ml_env) == [] and _executions() == []


def test_too_few_samples_is_reported_not_guessed(ml_env, training, handler_module, event_fixture, lambda_context):
    bundle, X = training
    _write_samples(bundle, X[:50])
    app = handler_module("drift_monitor")
    result = app.lambda_handler(event_fixture("eventbridge_scheduled_drift_check.json"), lambda_context)
    assert result == {"modelVersion": bundle.version, "rows": 50, "status": "insufficient_data"}
    assert retrain_rule_runs(ml_env) == []


def test_a_fresh_stack_without_a_model_skips_the_check_instead_of_failing_daily(
    ml_env, handler_module, event_fixture, lambda_context
):
    # Given no model promoted yet (nothing at MODEL_BUCKET/MODEL_KEY), when the daily check runs
    from anomaly_guardian.adapters.dynamodb import client

    client("s3").delete_object(Bucket=BUCKET, Key="models/current/model.npz")
    app = handler_module("drift_monitor")
    result = app.lambda_handler(event_fixture("eventbridge_scheduled_drift_check.json"), lambda_context)
    # Then it reports why it did nothing (no exception, so no retries and no dead-letter message)
    assert result == {"status": "no_model", "rows": 0}
    assert _executions() == []


def test_weekly_rule_exports_feedback_then_requests_retraining(ml_env, handler_module, event_fixture, lambda_context):
    _feedback()
    app = handler_module("drift_monitor")

    result = app.lambda_handler(event_fixture("eventbridge_weekly_retrain.json"), lambda_context)

    assert result["reason"] == "weekly" and result["feedbackRows"] == 2
    assert result["championPrAuc"] is None  # no approved model yet: the pipeline default (0.0) applies
    (event,) = retrain_rule_runs(ml_env)
    assert event["detail-type"] == "ModelRetrainRequested" and event["detail"]["reason"] == "weekly"
    assert len(_executions()) == 1


def test_without_a_bus_retraining_is_only_logged(ml_env, handler_module, event_fixture, lambda_context, monkeypatch):
    monkeypatch.delenv("EVENT_BUS_NAME")
    app = handler_module("drift_monitor")
    result = app.lambda_handler(event_fixture("eventbridge_weekly_retrain.json"), lambda_context)
    assert result["requested"] is None and retrain_rule_runs(ml_env) == []


def test_unknown_action_is_an_error_naming_it(ml_env, handler_module, lambda_context):
    app = handler_module("drift_monitor")
    with pytest.raises(ValueError, match="unknown action 'explode'"):
        app.lambda_handler({"action": "explode"}, lambda_context)
