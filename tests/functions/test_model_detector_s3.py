"""The model detector's AWS glue on moto: the model loaded from MODEL_BUCKET/MODEL_KEY, feature samples
written to S3 for the drift monitor, and a missing model degrading to the statistical detectors."""

from __future__ import annotations

import io

import numpy as np
import pytest

from anomaly_guardian.adapters.ml_artifacts import S3ModelArtifacts  # what wiring.detector passes
from anomaly_guardian.ml.synth import Generator
from anomaly_guardian.ml.training import fit_bundle, parse_stream, replay_features

BUCKET = "guardian-models-test"


@pytest.fixture(scope="module")
def bundle():
    events = [e for e, _ in Generator(users=40, days=5, seed=9, anomaly_rate=0.0).events()]
    rep = replay_features(parse_stream(events, default_tenant="t1"))
    return fit_bundle(rep.X, rep.seq, n_estimators=10, ae_hidden=(8,), seed=0)


def model_config():
    """What wiring.detector passes: the model settings of the environment the test set up."""
    from anomaly_guardian import wiring
    from anomaly_guardian.settings import DetectorSettings

    return wiring.model_config(DetectorSettings.from_env())


@pytest.fixture
def s3(aws, monkeypatch):
    from anomaly_guardian.adapters import ml_artifacts
    from anomaly_guardian.adapters.dynamodb import client
    from anomaly_guardian.detection import model

    ml_artifacts.reset_clients()
    model.reset_cache()
    for name in ("ML_DETECTOR", "MODEL_PATH", "MODEL_ENDPOINT_NAME", "FEATURE_SAMPLE_BUCKET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MODEL_BUCKET", BUCKET)
    monkeypatch.setenv("MODEL_KEY", "detector/model.npz")
    c = client("s3")
    c.create_bucket(Bucket=BUCKET)
    yield c
    model.reset_cache()
    ml_artifacts.reset_clients()


def test_model_is_loaded_from_s3_and_samples_are_written_back(s3, bundle, monkeypatch):
    from anomaly_guardian.detection.pipeline import DetectionPipeline
    from anomaly_guardian.detection.registry import build_detectors
    from anomaly_guardian.models.event import parse_event
    from anomaly_guardian.state.store import InMemoryStateStore

    s3.put_object(Bucket=BUCKET, Key="detector/model.npz", Body=bundle.to_bytes())
    monkeypatch.setenv("FEATURE_SAMPLE_BUCKET", BUCKET)
    monkeypatch.setenv("FEATURE_SAMPLE_RATE", "1.0")

    detectors = build_detectors(model_artifacts=S3ModelArtifacts(), model=model_config())
    ml = detectors[-1]
    assert ml.name == "ml" and ml.bundle.version == bundle.version
    events = [parse_event(e) for e, _ in Generator(users=10, days=2, seed=1).events()]
    DetectionPipeline(InMemoryStateStore(), detectors=[ml]).process("t1", events)
    key = ml.sink.flush()

    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    rows = np.load(io.BytesIO(body), allow_pickle=False)
    assert key.startswith(f"features/{bundle.version}/") and rows.shape[1] == bundle.mean.size
    assert rows.shape[0] == sum(1 for e in events if e.eventType != "metric")


def _stream(seed=1):
    from anomaly_guardian.models.event import parse_event

    return [parse_event(e) for e, _ in Generator(users=10, days=2, seed=seed, anomaly_rate=0.2).events()]


def test_missing_model_object_leaves_the_statistical_detectors_running_until_one_is_promoted(s3, bundle, monkeypatch):
    from anomaly_guardian.detection.pipeline import DetectionPipeline
    from anomaly_guardian.detection.registry import build_detectors
    from anomaly_guardian.state.store import InMemoryStateStore

    monkeypatch.setenv("MODEL_REFRESH_SECONDS", "0")
    detectors = build_detectors(model_artifacts=S3ModelArtifacts(), model=model_config())
    ml = detectors[-1]
    assert ml.name == "ml" and ml.bundle is None and len(detectors) >= 6
    events = _stream()
    before = DetectionPipeline(InMemoryStateStore(), detectors=detectors).process("t1", events)
    assert not [a for a in before if a.detector == "ml"]  # the statistical detectors ran alone

    s3.put_object(Bucket=BUCKET, Key="detector/model.npz", Body=bundle.to_bytes())
    after = DetectionPipeline(InMemoryStateStore(), detectors=detectors).process("t1", events)
    assert ml.bundle.version == bundle.version and ml.reloads == 1
    assert [a for a in after if a.detector == "ml"]


def test_a_broken_new_object_keeps_the_old_model_scoring(s3, bundle, monkeypatch):
    from anomaly_guardian.detection.pipeline import DetectionPipeline
    from anomaly_guardian.detection.registry import build_detectors
    from anomaly_guardian.state.store import InMemoryStateStore

    monkeypatch.setenv("MODEL_REFRESH_SECONDS", "0")
    s3.put_object(Bucket=BUCKET, Key="detector/model.npz", Body=bundle.to_bytes())
    ml = build_detectors(model_artifacts=S3ModelArtifacts(), model=model_config())[-1]
    loaded_etag = ml.etag
    s3.put_object(Bucket=BUCKET, Key="detector/model.npz", Body=b"half-written junk")
    found = DetectionPipeline(InMemoryStateStore(), detectors=[ml]).process("t1", _stream())
    assert ml.bundle.version == bundle.version and ml.etag == loaded_etag and ml.rejected_etag != loaded_etag
    assert found and {a.modelVersion for a in found} == {bundle.version}


def test_the_artifact_is_checked_at_most_every_refresh_interval(s3, bundle, monkeypatch):
    from anomaly_guardian.detection.model import ReloadingModelDetector

    heads = []
    now = [0.0]
    watched = ReloadingModelDetector(
        head_etag=lambda: heads.append(now[0]) or "etag-1",
        load=lambda: (bundle.to_bytes(), "etag-1"),
        build=lambda b: type("D", (), {"bundle": b, "sink": None})(),
        refresh_s=60,
        clock=lambda: now[0],
    )
    for t in (0.0, 10.0, 59.0, 60.0, 61.0, 130.0):
        now[0] = t
        watched.refresh()
    assert heads == [0.0, 60.0, 130.0] and watched.reloads == 1


def test_endpoint_invoker_sends_json_once_with_the_configured_timeout(aws):
    import json

    import boto3
    from botocore.response import StreamingBody
    from botocore.stub import Stubber

    from anomaly_guardian.adapters.ml_artifacts import endpoint_invoker, runtime_client

    runtime = boto3.client("sagemaker-runtime", region_name="us-east-1")
    answer = json.dumps({"scores": [0.1], "forest": [0.4], "recon": [0.0]}).encode()
    payload = {"X": [[0.0] * 3], "seq": [[0.0] * 2]}
    with Stubber(runtime) as stub:
        stub.add_response(
            "invoke_endpoint",
            {"Body": StreamingBody(io.BytesIO(answer), len(answer)), "ContentType": "application/json"},
            {
                "EndpointName": "guardian-model",
                "ContentType": "application/json",
                "Accept": "application/json",
                "Body": json.dumps(payload).encode(),
            },
        )
        assert endpoint_invoker("guardian-model", 0.3, client=runtime)(payload)["scores"] == [0.1]
        stub.assert_no_pending_responses()

    config = runtime_client(0.25).meta.config
    assert config.read_timeout == 0.25 and config.connect_timeout == 0.25
    assert config.retries["total_max_attempts"] == 1
