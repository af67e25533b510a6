"""SageMaker endpoint handler (script mode): the same NumPy bundle the detector Lambda scores with.

Request (application/json): {"X": [[...features...]], "seq": [[...sequence window...]]}, the rows the
detector built with anomaly_guardian.ml.features. Response: {"scores", "forest", "recon"} per row.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from anomaly_guardian.ml.features import FEATURES, SEQ_FEATURES, FeatureBatch
from anomaly_guardian.ml.jobs import load_model
from anomaly_guardian.ml.model import ModelBundle, Scores


def model_fn(model_dir: str) -> ModelBundle:
    return load_model(model_dir)


def input_fn(request_body: bytes | str, request_content_type: str) -> FeatureBatch:
    if request_content_type.split(";")[0].strip() != "application/json":
        raise ValueError(f"unsupported content type {request_content_type!r}: send application/json")
    data = json.loads(request_body)
    X = np.asarray(data.get("X"), dtype=np.float64)
    seq = np.asarray(data.get("seq"), dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != len(FEATURES):
        raise ValueError(f"X must be a list of rows with {len(FEATURES)} features")
    if seq.shape != (X.shape[0], len(SEQ_FEATURES)):
        raise ValueError(f"seq must have one row of {len(SEQ_FEATURES)} values per row of X")
    return FeatureBatch(X, seq, list(range(X.shape[0])))


def predict_fn(input_data: FeatureBatch, model: ModelBundle) -> Scores:
    return model.score(input_data)


def output_fn(prediction: Scores, accept: str) -> tuple[str, str]:
    body: dict[str, Any] = {
        "scores": prediction.score.tolist(),
        "forest": prediction.forest.tolist(),
        "recon": prediction.recon.tolist(),
        "tail": prediction.tail.tolist(),
    }
    return json.dumps(body), "application/json"
