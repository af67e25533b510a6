"""Feedback flows into the next training set; the script-mode jobs run end to end on files."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from anomaly_guardian.ml import jobs
from anomaly_guardian.ml.model import bin_counts, psi, reference_edges
from anomaly_guardian.ml.trainingset import collect_feedback, model_feedback

ROOT = Path(__file__).resolve().parents[3]


class PagedRepo:
    def __init__(self, items, page=2):
        self.items, self.page, self.calls = items, page, []

    def query(self, tenant, *, from_date=None, to_date=None, limit=100, next_token=None, **_):
        self.calls.append((tenant, next_token))
        start = int(next_token or 0)
        mine = [i for i in self.items if i["tenantId"] == tenant]
        nxt = start + self.page
        return mine[start:nxt], (str(nxt) if nxt < len(mine) else None)


def _anomaly(tenant, i, label=None, detector="ml"):
    a = {
        "tenantId": tenant,
        "anomalyId": f"A{i}",
        "anomalyType": "ml",
        "detector": detector,
        "originalEvent": {"eventId": f"e{i}"},
        "userId": "u_secret",
    }
    if label:
        a["feedback"] = {"label": label, "note": "n"}
    return a


def test_feedback_rows_are_collected_across_pages_and_tenants_without_user_ids():
    items = [
        _anomaly("t1", 1, "true_positive"),
        _anomaly("t1", 2),
        _anomaly("t1", 3, "false_positive"),
        _anomaly("t2", 4, "false_positive", detector="value"),
        _anomaly("t1", 5, "bogus"),
    ]
    repo = PagedRepo(items)
    rows = collect_feedback(repo, ["t1", "t2"], datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))
    assert [(r["eventId"], r["label"]) for r in rows] == [
        ("e1", "true_positive"),
        ("e3", "false_positive"),
        ("e4", "false_positive"),
    ]
    assert all("userId" not in r for r in rows)
    assert len(repo.calls) == 3  # t1: 2 pages of 2 (4 items), t2: 1
    fb = model_feedback(rows)
    assert (fb.total, fb.false_positives) == (2, 1)


def test_psi_is_zero_for_the_reference_and_large_for_a_shift():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5000, 3))
    edges = reference_edges(X)
    counts = bin_counts(X, edges)
    ref = counts / counts.sum(axis=1, keepdims=True)
    assert np.allclose(psi(ref, counts), 0.0, atol=1e-9)
    shifted = X + np.array([0.0, 1.0, 0.0])
    values = psi(ref, bin_counts(shifted, edges))
    assert values[1] > 0.25 and values[0] < 1e-9


def test_scripts_run_the_sagemaker_contract_locally_and_use_feedback(tmp_path, labelled_stream):
    events, labels = labelled_stream
    data = tmp_path / "data"
    data.mkdir()
    (data / "events.jsonl").write_text(
        "".join(json.dumps(e) + "\n" for e in events) + "{not json\n" + json.dumps({"eventId": "x"}) + "\n"
    )
    normal_ids = [e["eventId"] for e in events if not labels[e["eventId"]] and e["eventType"] != "metric"]
    feedback = [
        {"eventId": normal_ids[10], "label": "true_positive", "anomalyType": "ml"},
        {"eventId": next(i for i, v in labels.items() if v), "label": "false_positive"},
    ]
    (data / "feedback.jsonl").write_text("".join(json.dumps(r) + "\n" for r in feedback))
    (data / "labels.jsonl").write_text(
        "".join(json.dumps({"eventId": i, "label": v}) + "\n" for i, v in labels.items() if v)
    )
    py = sys.executable
    src = ROOT / "ml" / "src"

    def run(script, *args, env=None):
        out = subprocess.run([py, str(src / script), *args], capture_output=True, text=True, timeout=300, env=env)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.strip().splitlines()[-1])

    summary = run("preprocess.py", "--input-dir", str(data), "--output-dir", str(tmp_path / "out"))
    assert summary["rejected"] == 2  # the malformed line and the event without required fields are reported
    rejected = (tmp_path / "out" / "rejected.jsonl").read_text().splitlines()
    assert any("Malformed JSON" in r for r in rejected) and any("userId" in r for r in rejected)
    assert summary["analystFalsePositives"] == 1

    train = jobs.load_features(tmp_path / "out" / "train")
    test = jobs.load_features(tmp_path / "out" / "test")
    ids = np.concatenate([train["event_id"], test["event_id"]])
    y = np.concatenate([train["y"], test["y"]])
    assert y[list(ids).index(feedback[0]["eventId"])] == 1  # analyst-confirmed becomes a positive
    assert y[list(ids).index(feedback[1]["eventId"])] == 0  # analyst false positive becomes normal

    import os

    env = dict(os.environ, SM_MODEL_DIR=str(tmp_path / "model"), SM_CHANNEL_TRAIN=str(tmp_path / "out" / "train"))
    trained = run("train.py", "--n-estimators", "20", env=env)
    assert trained["excludedPositives"] == int(train["y"].sum())
    assert (tmp_path / "model" / "code" / "inference.py").exists()  # packaged for the endpoint

    report = run(
        "evaluate.py",
        "--model",
        str(tmp_path / "model"),
        "--test",
        str(tmp_path / "out" / "test"),
        "--output-dir",
        str(tmp_path / "eval"),
    )
    evaluation = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    assert set(report) >= {
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "pr_auc",
        "cost_false_positives",
        "cost_false_negatives",
    }
    assert evaluation["binary_classification_metrics"]["pr_auc"]["value"] == report["pr_auc"]
    assert 0.5 < report["roc_auc"] <= 1.0


def test_inference_handlers_follow_the_endpoint_contract(tmp_path, trained_bundle):
    sys.path.insert(0, str(ROOT / "ml" / "src"))
    try:
        import inference
    finally:
        sys.path.pop(0)
    (tmp_path / "model.npz").write_bytes(trained_bundle.to_bytes())
    model = inference.model_fn(str(tmp_path))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3, trained_bundle.mean.size))
    seq = rng.normal(size=(3, trained_bundle.seq_mean.size))
    batch = inference.input_fn(json.dumps({"X": X.tolist(), "seq": seq.tolist()}), "application/json")
    body, content_type = inference.output_fn(inference.predict_fn(batch, model), "application/json")
    assert content_type == "application/json"
    assert len(json.loads(body)["scores"]) == 3
    import pytest

    with pytest.raises(ValueError, match="features"):
        inference.input_fn(json.dumps({"X": [[1.0, 2.0]], "seq": [[0.0]]}), "application/json")
    with pytest.raises(ValueError, match="unsupported content type"):
        inference.input_fn("1,2", "text/csv")


def test_preprocess_reads_a_firehose_archive_of_concatenated_gzip_envelopes(tmp_path, labelled_stream):
    import gzip

    events, _ = labelled_stream
    envelopes = [{"tenantId": "t9", "receivedAt": e["timestamp"], "event": e} for e in events[:400]]
    day = tmp_path / "data" / "dt=2026-01-05"
    day.mkdir(parents=True)
    # Two delivery files, out of order on purpose, records concatenated with no delimiter (Firehose).
    for name, part in (("archive-1-b.gz", envelopes[200:]), ("archive-1-a.gz", envelopes[:200])):
        with gzip.open(day / name, "wt", encoding="utf-8") as fh:
            fh.write("".join(json.dumps(e) for e in part))
    summary = jobs.preprocess(tmp_path / "data", tmp_path / "out")
    users = sum(1 for e in events[:400] if e["eventType"] != "metric")
    assert summary["rows"] == users and summary["rejected"] == 0
