"""Journey: approve -> promote -> the detector scores with the model, then roll back, on the local stack.

Given the local stack with no model (a fresh deploy), when an operator registers two exported models
(`guardian model register --local`: what the pipeline's Register step does) and approves them in turn
with `guardian model approve --latest --local` (UpdateModelPackage on the emulated registry, then the
state-change event SageMaker would publish), the template's EventBridge rule runs model_promote, the
live model changes, and events POSTed afterwards come back from GET /anomalies scored by that model
(`modelVersion`); `guardian model rollback --local` puts the first model back and the detector follows.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

import pytest
from local_helpers import wait_for

from anomaly_guardian.ml.synth import Generator
from anomaly_guardian.ml.training import fit_bundle, parse_stream, replay_features

REFRESH_SECONDS = 2  # MODEL_REFRESH_SECONDS on the local stack (local/stack.py; 60 s deployed)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    events = [e for e, _ in Generator(users=50, days=6, seed=4, anomaly_rate=0.0).events()]
    rep = replay_features(parse_stream(events, default_tenant="t1"))
    out = {}
    for seed, version in ((0, "journey-a"), (1, "journey-b")):
        bundle = fit_bundle(rep.X, rep.seq, n_estimators=15, ae_hidden=(8,), seed=seed)
        bundle.metadata["modelVersion"] = version
        path = tmp_path_factory.mktemp("models") / f"{version}.npz"
        path.write_bytes(bundle.to_bytes())
        out[version] = path
    return out


def model_cli(local_stack, *argv: str) -> tuple[int, dict | str]:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "anomaly_guardian.cli",
            "model",
            *argv,
            "--local",
            "--state-dir",
            str(local_stack.state_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return proc.returncode, json.loads(proc.stdout) if proc.returncode in (0, 1) else proc.stderr


def live_version(local_stack) -> str | None:
    code, status = model_cli(local_stack, "status")
    assert code == 0, status
    return (status.get("live") or {}).get("model-version")


def send_and_collect(api, prefix: str, timeout: float = 30) -> list[dict]:
    """POST a stream with behavioural anomalies for a fresh tenant; the ml-scored anomalies it yields."""
    tenant = f"ml-{prefix}-{uuid.uuid4().hex[:6]}"
    events = [e for e, _ in Generator(users=30, days=3, seed=11, anomaly_rate=0.3).events()][:1000]
    for i in range(0, len(events), 100):
        resp = api("POST", "/events", tenant=tenant, json={"events": events[i : i + 100]})
        assert resp.status_code == 202, resp.text

    def scored():
        rows = api("GET", "/anomalies", tenant=tenant, params={"limit": 1000}).json()["anomalies"]
        return [a for a in rows if a.get("modelVersion")]

    return wait_for(scored, timeout=timeout, interval=0.5)


def test_approve_promote_score_then_roll_back(api, local_stack, models):
    if live_version(local_stack) is None:  # a fresh stack (no other test promoted one yet)
        assert send_and_collect(api, "none", timeout=8) == []  # no model: nothing is model-scored
    for version, path in models.items():
        code, reg = model_cli(local_stack, "register", str(path))
        assert code == 0 and reg["modelVersion"] == version, reg
        code, out = model_cli(local_stack, "approve", "--latest")
        assert code == 0 and out["approved"] == reg["registered"], out
        assert wait_for(lambda v=version: live_version(local_stack) == v, timeout=20), f"{version} not promoted"
        time.sleep(REFRESH_SECONDS + 1)  # every detector instance checks the model's ETag this often
        scored = send_and_collect(api, version)
        assert scored, f"no anomaly scored by {version}; stats: {local_stack.stats()['functions']}"
        assert {a["modelVersion"] for a in scored} == {version}, (
            sorted((a["detectedAt"], a["modelVersion"]) for a in scored),
            model_cli(local_stack, "status"),
        )

    code, back = model_cli(local_stack, "rollback")
    assert code == 0 and back["status"] == "rolled_back" and back["modelVersion"] == "journey-a", back
    time.sleep(REFRESH_SECONDS + 1)
    scored = send_and_collect(api, "rolled-back")
    assert scored and {a["modelVersion"] for a in scored} == {"journey-a"}
    assert local_stack.stats()["deliveries"].get("ModelPromoteFunction.ModelApproved", 0) >= 2
