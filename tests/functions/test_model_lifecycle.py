"""Model lifecycle on emulated AWS (moto): a package registered in moto's SageMaker model registry is
approved (UpdateModelPackage), the "SageMaker Model Package State Change" event goes through an
EventBridge rule with the template's own pattern, the real model_promote handler copies the exported
model to MODEL_BUCKET/MODEL_KEY, and the real detector handler scores with it; then rollback.

Stand-in: moto's SageMaker does not emit the state-change event (SageMaker does on AWS), so the test
publishes it with `adapters.model_registry.publish_state_change` from the package's description, in
the shape SageMaker documents; moto's EventBridge then matches it against the template's rule."""

from __future__ import annotations

import base64
import io
import json
import tarfile

import numpy as np
import pytest
from template_rules import capture, resource
from template_rules import delivered as _delivered

from anomaly_guardian.ml.synth import Generator
from anomaly_guardian.ml.training import fit_bundle, parse_stream, replay_features

BUCKET = "guardian-models-test"
LIVE_KEY = "models/detector/current.npz"
GROUP = "anomaly-guardian-test-detector"


@pytest.fixture(scope="module")
def bundles():
    events = [e for e, _ in Generator(users=50, days=6, seed=4, anomaly_rate=0.0).events()]
    rep = replay_features(parse_stream(events, default_tenant="t1"))
    a = fit_bundle(rep.X, rep.seq, n_estimators=15, ae_hidden=(8,), seed=0)
    b = fit_bundle(rep.X, rep.seq, n_estimators=15, ae_hidden=(8,), seed=1)
    a.metadata["modelVersion"], b.metadata["modelVersion"] = "v-a", "v-b"
    return a, b


def model_tar(npz: bytes) -> bytes:
    """What the training job writes: model.tar.gz with model.npz and code/ at its root."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in (("model.npz", npz), ("code/inference.py", b"# serving entry point\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def lifecycle(tables, detector_dlq, monkeypatch):
    from anomaly_guardian.adapters import ml_artifacts
    from anomaly_guardian.adapters.dynamodb import client
    from anomaly_guardian.detection import model

    ml_artifacts.reset_clients()
    model.reset_cache()
    for name in ("ML_DETECTOR", "MODEL_PATH", "MODEL_ENDPOINT_NAME", "FEATURE_SAMPLE_BUCKET"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {
        "MODEL_BUCKET": BUCKET,
        "MODEL_KEY": LIVE_KEY,
        "MODEL_PACKAGE_GROUP": GROUP,
        "MODEL_REFRESH_SECONDS": "0",
        "GUARDIAN_PSEUDONYM_KEY": "test-pseudonym-key",
    }.items():
        monkeypatch.setenv(name, value)
    client("s3").create_bucket(Bucket=BUCKET)
    sm = client("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName=GROUP, ModelPackageGroupDescription="test")
    # The template's rule (default bus, its own pattern) routed to a queue: what EventBridge delivers.
    fn = resource("ModelPromoteFunction", {"ModelPackageGroupName": GROUP, "Environment": "test"})
    rule = fn["Properties"]["Events"]["ModelApproved"]["Properties"]
    assert "EventBusName" not in rule  # SageMaker publishes on the default bus
    queue = capture("model-approved", rule["Pattern"])
    yield {"sm": sm, "s3": client("s3"), "queue": queue}
    model.reset_cache()
    ml_artifacts.reset_clients()


def register(ctx, npz: bytes, run: str) -> str:
    key = f"pipelines/retrain/models/{run}/output/model.tar.gz"
    ctx["s3"].put_object(Bucket=BUCKET, Key=key, Body=model_tar(npz))
    return ctx["sm"].create_model_package(
        ModelPackageGroupName=GROUP,
        ModelPackageDescription=f"run {run}",
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [
                {
                    "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/anomaly-guardian-ml:test",
                    "ModelDataUrl": f"s3://{BUCKET}/{key}",
                }
            ],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    )["ModelPackageArn"]


def approve_and_deliver(ctx, arn: str) -> list[dict]:
    """Approve through the registry adapter (what `guardian model approve` calls), publish the state
    change as SageMaker would, and return what the template's rule delivered."""
    from anomaly_guardian.adapters.model_registry import SageMakerRegistry, publish_state_change
    from anomaly_guardian.ml.lifecycle import state_change_event

    desc = SageMakerRegistry().approve(arn, "approved in test")
    assert desc["ModelApprovalStatus"] == "Approved"
    publish_state_change(state_change_event(desc, "us-east-1", "123456789012"))
    return delivered(ctx)


def delivered(ctx) -> list[dict]:
    return _delivered(ctx["queue"])


def kinesis_event(events: list[dict], tenant: str = "t1") -> dict:
    records = []
    for i, ev in enumerate(events):
        envelope = {"tenantId": tenant, "receivedAt": ev["timestamp"], "event": ev}
        seq = f"{49620000000000000000000000000000000000000000000000000000 + i}"
        records.append(
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": f"{tenant}#{ev.get('userId')}",
                    "sequenceNumber": seq,
                    "data": base64.b64encode(json.dumps(envelope).encode()).decode(),
                    "approximateArrivalTimestamp": 1772366405.123,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"shardId-000000000000:{seq}",
                "eventName": "aws:kinesis:record",
                "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/test-events",
            }
        )
    return {"Records": records}


def scored_stream(prefix: str) -> list[dict]:
    """A stream with anomalies the model flags (the ML generator's behavioural episodes)."""
    events = [e for e, _ in Generator(users=12, days=2, seed=11, anomaly_rate=0.2).events()]
    for e in events:
        e["eventId"] = f"{prefix}-{e['eventId']}"
    return events[:400]


def ml_anomalies(tenant: str = "t1") -> list[dict]:
    from anomaly_guardian.adapters.anomalies import AnomalyRepository

    items, _ = AnomalyRepository("test-anomalies", token_key=b"k").query(tenant, limit=1000)
    return [a for a in items if a.get("detector") == "ml"]


def run_detector(detector, events, lambda_context) -> None:
    for i in range(0, len(events), 100):
        assert detector.lambda_handler(kinesis_event(events[i : i + 100]), lambda_context) == {"batchItemFailures": []}


def test_approve_promote_then_the_detector_scores_with_the_new_model_and_rollback_restores(
    lifecycle, bundles, handler_module, lambda_context
):
    a, b = bundles
    # A fresh stack: no model yet. The detector runs (statistical detectors), the model detector is inert.
    detector = handler_module("detector")
    run_detector(detector, scored_stream("pre"), lambda_context)
    assert ml_anomalies() == []

    promote = handler_module("model_promote")
    arn_a = register(lifecycle, a.to_bytes(), "run-a")
    (event,) = approve_and_deliver(lifecycle, arn_a)
    assert event["detail-type"] == "SageMaker Model Package State Change"
    result = promote.lambda_handler(event, lambda_context)
    assert result["status"] == "promoted" and result["modelVersion"] == "v-a"
    live = lifecycle["s3"].get_object(Bucket=BUCKET, Key=LIVE_KEY)
    assert live["Metadata"]["model-package-arn"] == arn_a and live["Metadata"]["model-version"] == "v-a"
    assert live["ServerSideEncryption"] == "aws:kms"

    run_detector(detector, scored_stream("a"), lambda_context)
    scored_a = ml_anomalies()
    assert scored_a, "the detector did not score with the promoted model"
    assert {x["modelVersion"] for x in scored_a} == {"v-a"}

    # Redelivery of the same event: idempotent, nothing written.
    again = promote.lambda_handler(event, lambda_context)
    assert again["status"] == "already_promoted"

    # The next package replaces it; the first one is kept for rollback.
    arn_b = register(lifecycle, b.to_bytes(), "run-b")
    (event_b,) = approve_and_deliver(lifecycle, arn_b)
    result_b = promote.lambda_handler(event_b, lambda_context)
    assert result_b["status"] == "promoted" and result_b["previousVersion"] == "v-a"
    run_detector(detector, scored_stream("b"), lambda_context)
    new = [x for x in ml_anomalies() if x["originalEvent"]["eventId"].startswith("b-")]
    assert new and {x["modelVersion"] for x in new} == {"v-b"}

    # A late redelivery of v-a's approval (or SageMaker's event for a later edit of that package) must
    # not bring the replaced model back.
    assert promote.lambda_handler(event, lambda_context)["status"] == "already_promoted"
    assert lifecycle["s3"].head_object(Bucket=BUCKET, Key=LIVE_KEY)["Metadata"]["model-version"] == "v-b"

    # Rollback (what `guardian model rollback` runs): v-a is live again and the detector follows.
    from anomaly_guardian.wiring import model_promoter

    back = model_promoter().rollback(actor="test")
    assert back["status"] == "rolled_back" and back["modelVersion"] == "v-a" and back["replacedVersion"] == "v-b"
    run_detector(detector, scored_stream("r"), lambda_context)
    rolled = [x for x in ml_anomalies() if x["originalEvent"]["eventId"].startswith("r-")]
    assert rolled and {x["modelVersion"] for x in rolled} == {"v-a"}

    # Every step is in the history (the audit trail), oldest first.
    keys = [
        o["Key"]
        for o in lifecycle["s3"].list_objects_v2(Bucket=BUCKET, Prefix="models/detector/current.npz.history/")[
            "Contents"
        ]
    ]
    records = [json.loads(lifecycle["s3"].get_object(Bucket=BUCKET, Key=k)["Body"].read()) for k in sorted(keys)]
    assert [(r["action"], r["status"]) for r in records] == [
        ("promote", "promoted"),
        ("promote", "promoted"),
        ("rollback", "rolled_back"),
    ]


def test_an_invalid_artifact_is_refused_and_the_live_model_is_untouched(
    lifecycle, bundles, handler_module, lambda_context
):
    a, _ = bundles
    promote = handler_module("model_promote")
    (event,) = approve_and_deliver(lifecycle, register(lifecycle, a.to_bytes(), "good"))
    assert promote.lambda_handler(event, lambda_context)["status"] == "promoted"
    before = lifecycle["s3"].get_object(Bucket=BUCKET, Key=LIVE_KEY)["ETag"]

    # A model trained on another feature set (a different code version): the detector could not serve it.
    arrays = dict(np.load(io.BytesIO(a.to_bytes()), allow_pickle=False))
    meta = json.loads(bytes(arrays["metadata"]).decode())
    meta["features"] = [*meta["features"][:-1], "feature_from_the_future"]
    arrays["metadata"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    (bad_event,) = approve_and_deliver(lifecycle, register(lifecycle, buf.getvalue(), "foreign"))
    refused = promote.lambda_handler(bad_event, lambda_context)
    assert refused["status"] == "refused" and "different feature set" in refused["reason"]

    (junk_event,) = approve_and_deliver(lifecycle, register(lifecycle, b"not a model at all", "junk"))
    junk = promote.lambda_handler(junk_event, lambda_context)
    assert junk["status"] == "refused"

    assert lifecycle["s3"].get_object(Bucket=BUCKET, Key=LIVE_KEY)["ETag"] == before
    prev = lifecycle["s3"].list_objects_v2(Bucket=BUCKET, Prefix="models/detector/current.npz.previous")
    assert prev.get("KeyCount", 0) == 0  # nothing was shifted to "previous" by a refusal


def test_only_approved_packages_of_the_project_group_reach_the_function(lifecycle, bundles):
    from anomaly_guardian.adapters.dynamodb import client
    from anomaly_guardian.adapters.model_registry import publish_state_change
    from anomaly_guardian.ml.lifecycle import state_change_event

    a, _ = bundles
    arn = register(lifecycle, a.to_bytes(), "pending")
    desc = lifecycle["sm"].describe_model_package(ModelPackageName=arn)
    publish_state_change(state_change_event(desc, "us-east-1", "123456789012"))  # still PendingManualApproval
    other = "some-other-team-models"
    client("sagemaker").create_model_package_group(ModelPackageGroupName=other)
    foreign = dict(desc, ModelPackageGroupName=other, ModelApprovalStatus="Approved")
    publish_state_change(state_change_event(foreign, "us-east-1", "123456789012"))
    assert delivered(lifecycle) == []


def test_a_package_rejected_after_its_approval_event_is_not_promoted(
    lifecycle, bundles, handler_module, lambda_context
):
    a, _ = bundles
    promote = handler_module("model_promote")
    arn = register(lifecycle, a.to_bytes(), "flip")
    (event,) = approve_and_deliver(lifecycle, arn)
    lifecycle["sm"].update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected")
    result = promote.lambda_handler(event, lambda_context)
    assert result["status"] == "refused" and "Rejected" in result["reason"]
    keys = [o["Key"] for o in lifecycle["s3"].list_objects_v2(Bucket=BUCKET, Prefix="models/").get("Contents", [])]
    assert LIVE_KEY not in keys and [k for k in keys if ".history/" in k]  # refusal recorded, nothing live


def test_rollback_without_a_previous_model_is_refused(lifecycle):
    from anomaly_guardian.wiring import model_promoter

    out = model_promoter().rollback(actor="test")
    assert out["status"] == "refused" and "no previous model" in out["reason"]


def test_the_cli_approves_the_latest_package_then_shows_and_rolls_back_the_live_model(
    lifecycle, bundles, handler_module, lambda_context, capsys
):
    from anomaly_guardian.adapters.dynamodb import client
    from anomaly_guardian.adapters.model_registry import publish_state_change
    from anomaly_guardian.cli import main
    from anomaly_guardian.ml.lifecycle import state_change_event

    ssm = client("ssm")
    ssm.put_parameter(Name="/anomaly-guardian/dev/s3/models-bucket", Value=BUCKET, Type="String")
    ssm.put_parameter(Name="/anomaly-guardian/dev/ml/model-package-group", Value=GROUP, Type="String")
    a, b = bundles
    promote = handler_module("model_promote")

    def cli(*argv: str) -> tuple[int, dict | list | str]:
        capsys.readouterr()  # drop the handlers' log lines
        code = main(["model", *argv, "--env", "dev", "--region", "us-east-1"])
        out, err = capsys.readouterr()
        return code, json.loads(out) if code in (0, 1) and out.strip() else err

    for npz, run in ((a.to_bytes(), "cli-a"), (b.to_bytes(), "cli-b")):
        arn = register(lifecycle, npz, run)
        code, listed = cli("list", "--status", "PendingManualApproval")
        assert code == 0 and listed[0]["arn"] == arn
        code, out = cli("approve", "--latest")
        assert code == 0 and out["approved"] == arn
        # On AWS SageMaker now emits the state change; here the test publishes it (moto does not).
        publish_state_change(
            state_change_event(
                client("sagemaker").describe_model_package(ModelPackageName=arn), "us-east-1", "123456789012"
            )
        )
        (event,) = delivered(lifecycle)
        assert promote.lambda_handler(event, lambda_context)["status"] == "promoted"

    code, status = cli("status")
    assert code == 0 and status["live"]["model-version"] == "v-b" and status["previous"]["model-version"] == "v-a"
    code, back = cli("rollback")
    assert code == 0 and back["status"] == "rolled_back" and back["modelVersion"] == "v-a"
    assert back["actor"].startswith("cli")
    code, status = cli("status")
    assert status["live"]["model-version"] == "v-a" and status["previous"]["model-version"] == "v-b"

    code, err = cli("approve", "--latest")
    assert code == 2 and "no package awaiting approval" in err
    # An explicit promote brings a given approved package back (events never do, see above).
    (b_arn,) = [p["arn"] for p in cli("list", "--status", "Approved")[1] if p["version"] == 2]
    code, out = cli("promote", b_arn)
    assert code == 0 and out["status"] == "promoted" and out["modelVersion"] == "v-b"
