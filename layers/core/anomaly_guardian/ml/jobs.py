"""The ML jobs behind ml/src/*.py (SageMaker processing/training) and `guardian train` (local).

Directory contracts (what SageMaker mounts under /opt/ml):
- preprocess: in `events.jsonl` (events or Kinesis envelopes), optional `labels.jsonl`
  ({eventId, label[, episode]}) and `feedback.jsonl` ({eventId, label: true_positive|false_positive});
  out `train/features.npz`, `test/features.npz`, `rejected.jsonl` (rows that failed validation, with why).
- train: in a `features.npz` channel; out `model.npz` in the model dir.
- evaluate: in the model (model.npz or SageMaker's model.tar.gz) and `test/features.npz`;
  out `evaluation.json`.
"""

from __future__ import annotations

import gzip
import json
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from anomaly_guardian.ml.model import ModelBundle
from anomaly_guardian.ml.training import evaluate_scores, fit_bundle, replay_features, score_rows
from anomaly_guardian.models.event import Event, InvalidEvent, parse_event

FEATURES_FILE = "features.npz"
MODEL_FILE = "model.npz"


def read_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    decoder = json.JSONDecoder()
    with opener(path, "rt", encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            # One object per line, or Firehose's concatenated records ({...}{...}) without delimiters.
            text, pos = line.strip(), 0
            while pos < len(text):
                try:
                    obj, end = decoder.raw_decode(text, pos)
                except ValueError as exc:
                    yield n, InvalidEvent(f"Malformed JSON: {exc}")
                    break
                yield n, obj
                pos = end
                while pos < len(text) and text[pos] in " \t\r":
                    pos += 1


NOT_EVENTS = {"labels.jsonl", "feedback.jsonl", "rejected.jsonl"}


def event_files(input_dir: Path) -> list[Path]:
    """events.jsonl, or every JSON-lines file below the input (a Firehose archive: yyyy/mm/dd/hh/...)."""
    if (input_dir / "events.jsonl").exists():
        return [input_dir / "events.jsonl"]
    return sorted(
        p
        for p in input_dir.rglob("*")
        if p.is_file() and p.name not in NOT_EVENTS and (p.suffix in (".jsonl", ".json", ".gz") or "." not in p.name)
    )


def _events(paths: list[Path], rejected: list[dict[str, Any]], default_tenant: str) -> Iterator[tuple[str, Event]]:
    for path in paths:
        yield from _file_events(path, rejected, default_tenant)


def _file_events(path: Path, rejected: list[dict[str, Any]], default_tenant: str) -> Iterator[tuple[str, Event]]:
    for n, row in read_jsonl(path):
        try:
            if isinstance(row, Exception):
                raise row
            if isinstance(row, dict) and isinstance(row.get("event"), dict):
                yield str(row.get("tenantId") or default_tenant), parse_event(row["event"])
            elif isinstance(row, dict):
                yield default_tenant, parse_event(row)
            else:
                raise InvalidEvent("Event must be a JSON object")
        except InvalidEvent as exc:
            rejected.append({"file": path.name, "line": n, "error": exc.message})


def load_labels(directory: Path) -> tuple[dict[str, str], dict[str, str], set[str]]:
    """(eventId -> label, eventId -> episode, eventIds analysts marked false positive)."""
    labels: dict[str, str] = {}
    episodes: dict[str, str] = {}
    false_pos: set[str] = set()
    if (directory / "labels.jsonl").exists():
        for _n, row in read_jsonl(directory / "labels.jsonl"):
            if isinstance(row, dict) and row.get("eventId"):
                labels[row["eventId"]] = str(row.get("label") or "anomaly")
                if row.get("episode"):
                    episodes[row["eventId"]] = str(row["episode"])
    if (directory / "feedback.jsonl").exists():
        for _n, row in read_jsonl(directory / "feedback.jsonl"):
            if not isinstance(row, dict) or not row.get("eventId"):
                continue
            if row.get("label") == "true_positive":
                labels[row["eventId"]] = str(row.get("anomalyType") or "feedback")
            elif row.get("label") == "false_positive":
                false_pos.add(row["eventId"])
                labels.pop(row["eventId"], None)
    return labels, episodes, false_pos


def preprocess(
    input_dir: str | Path, output_dir: str | Path, train_fraction: float = 0.6, default_tenant: str = "default"
) -> dict[str, Any]:
    input_dir, output_dir = Path(input_dir), Path(output_dir)
    files = event_files(input_dir)
    if not files:
        raise FileNotFoundError(f"preprocess: no events.jsonl (or JSON-lines archive files) in {input_dir}")
    rejected: list[dict[str, Any]] = []
    # Event-time order across files, so running aggregates replay as the detector saw them.
    events = sorted(_events(files, rejected, default_tenant), key=lambda te: te[1].timestamp)
    rep = replay_features(events)
    labels, episodes, false_pos = load_labels(input_dir)
    kind = np.array([labels.get(i, "") for i in rep.event_ids], dtype=object)
    y = (kind != "").astype(np.int8)
    episode = np.array([episodes.get(i, "") for i in rep.event_ids], dtype=object)
    n = len(rep.event_ids)
    m = len(rep.metric_ids)
    metric_kind = np.array([labels.get(i, "") for i in rep.metric_ids], dtype=object)
    mcut = int(m * train_fraction)
    cut = int(n * train_fraction)  # time split: train on the earlier part, evaluate on the later one
    out = {}
    for name, sl, msl in (("train", slice(0, cut), slice(0, mcut)), ("test", slice(cut, n), slice(mcut, m))):
        d = output_dir / name
        d.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            d / FEATURES_FILE,
            X=rep.X[sl],
            seq=rep.seq[sl],
            y=y[sl],
            kind=kind[sl].astype(str),
            episode=episode[sl].astype(str),
            event_id=np.array(rep.event_ids[sl], dtype=str),
            metric=rep.metric[msl],
            metric_kind=metric_kind[msl].astype(str),
            metric_event_id=np.array(rep.metric_ids[msl], dtype=str),
        )
        out[name] = int(sl.stop - sl.start)
    with open(output_dir / "rejected.jsonl", "w", encoding="utf-8") as fh:
        for row in rejected:
            fh.write(json.dumps(row) + "\n")
    summary = {
        "rows": n,
        "metricWindows": m,
        **out,
        "positives": int(y.sum()),
        "rejected": len(rejected),
        "analystFalsePositives": len(false_pos & set(rep.event_ids)),
    }
    (output_dir / "preprocess.json").write_text(json.dumps(summary, indent=2))
    return summary


def load_features(channel: str | Path) -> dict[str, np.ndarray]:
    path = Path(channel)
    path = path / FEATURES_FILE if path.is_dir() else path
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def train(train_channel: str | Path, model_dir: str | Path, **hyper: Any) -> dict[str, Any]:
    data = load_features(train_channel)
    normal = data["y"] == 0  # confirmed anomalies are kept out of what "normal" looks like
    metric = data.get("metric")
    if metric is not None:
        metric = metric[data["metric_kind"] == ""]
    bundle = fit_bundle(data["X"][normal], data["seq"][normal], metric=metric, **hyper)
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / MODEL_FILE).write_bytes(bundle.to_bytes())
    return {"modelVersion": bundle.version, "trainedRows": int(normal.sum()), "excludedPositives": int((~normal).sum())}


def load_model(model_path: str | Path) -> ModelBundle:
    """model.npz, a directory holding it, or SageMaker's model.tar.gz (as a file or in the directory)."""
    path = Path(model_path)
    if path.is_dir():
        if (path / MODEL_FILE).exists():
            path = path / MODEL_FILE
        elif (path / "model.tar.gz").exists():
            path = path / "model.tar.gz"
        else:
            raise FileNotFoundError(f"no {MODEL_FILE} or model.tar.gz in {model_path}")
    if path.name.endswith(".tar.gz"):
        with tarfile.open(path) as tar:
            member = tar.extractfile(MODEL_FILE)
            if member is None:
                raise FileNotFoundError(f"{MODEL_FILE} not in {path}")
            return ModelBundle.from_bytes(member.read())
    return ModelBundle.from_bytes(path.read_bytes())


def evaluate(
    model_path: str | Path,
    test_channel: str | Path,
    output_dir: str | Path,
    cost_fp: float = 1.0,
    cost_fn: float = 25.0,
) -> dict[str, Any]:
    bundle = load_model(model_path)
    data = load_features(test_channel)
    score = score_rows(bundle, data["X"], data["seq"])
    metrics = evaluate_scores(data["y"], score, 0.5, cost_fp, cost_fn)
    per_type = {}
    for kind in sorted(set(data["kind"].tolist()) - {""}):
        mask = data["kind"] == kind
        per_type[kind] = {"events": int(mask.sum()), "recall": float((score[mask] >= 0.5).mean())}
    report = {
        "modelVersion": bundle.version,
        "metrics": metrics,
        "perType": per_type,
        "metricWindows": _metric_report(bundle, data, cost_fp, cost_fn),
        # Model Registry "model quality" shape, so the registered package shows the same figures.
        "binary_classification_metrics": {
            k: {"value": metrics[k], "standard_deviation": "NaN"}
            for k in ("precision", "recall", "f1", "roc_auc", "pr_auc", "false_positive_rate")
        },
    }
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "evaluation.json").write_text(json.dumps(report, indent=2, default=float))
    return report


def _metric_report(bundle: ModelBundle, data: dict[str, np.ndarray], cost_fp: float, cost_fn: float) -> Any:
    """The service-metric autoencoder on its own windows (None when there is no metric model or data)."""
    from anomaly_guardian.ml.features import FeatureBatch

    metric = data.get("metric")
    if bundle.metric_ae is None or metric is None or not len(metric):
        return None
    y = data["metric_kind"] != ""
    score, _recon = bundle.score_metrics(
        FeatureBatch(data["X"][:0], data["seq"][:0], [], metric, list(range(len(metric))))
    )
    return {"windows": len(metric), "positives": int(y.sum()), **evaluate_scores(y, score, 0.5, cost_fp, cost_fn)}


def sm_dir(env: str, default: str) -> str:
    """SageMaker's environment contract (SM_MODEL_DIR, SM_CHANNEL_TRAIN, ...) with a local default."""
    return os.environ.get(env, default)
