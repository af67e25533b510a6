"""The exported model bundle: what training writes and the detector loads (one .npz, no pickle).

It holds the standardisation of the features, the Isolation Forest as node arrays, the sequence
autoencoder as weight matrices, the score thresholds learned on training data, and the training
reference histograms the drift monitor compares live features against.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from anomaly_guardian.ml.autoencoder import AutoencoderArrays
from anomaly_guardian.ml.features import FEATURES, SEQ_FEATURES, FeatureBatch
from anomaly_guardian.ml.forest import ForestArrays

FORMAT_VERSION = 2
PSI_BINS = 10
TAIL_QUANTILES = 1001


class ModelFormatError(ValueError):
    """The artifact is not a model this code can serve (wrong version, features or arrays)."""


def standardise(X: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """z-score with the training mean/std (std floored so constant columns stay finite)."""
    return (X - mean) / np.maximum(std, 1e-9)


def reference_edges(X: np.ndarray, bins: int = PSI_BINS) -> np.ndarray:
    """Inner bin edges per feature from training quantiles: shape (n_features, bins - 1)."""
    qs = np.linspace(0, 1, bins + 1)[1:-1]
    return np.quantile(X, qs, axis=0).T.copy()


def bin_counts(X: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per (feature, bin) for rows of X, vectorised over features."""
    n_features, inner = edges.shape
    counts = np.zeros((n_features, inner + 1), dtype=np.float64)
    for j in range(n_features):
        idx = np.searchsorted(edges[j], X[:, j], side="right")
        counts[j] = np.bincount(idx, minlength=inner + 1)
    return counts


def psi(ref_props: np.ndarray, counts: np.ndarray, eps: float = 1e-4) -> np.ndarray:
    """Population stability index per feature: sum((cur - ref) * ln(cur / ref))."""
    totals = counts.sum(axis=1, keepdims=True)
    cur = np.where(totals > 0, counts / np.maximum(totals, 1), 0.0)
    cur = np.maximum(cur, eps)
    ref = np.maximum(ref_props, eps)
    return ((cur - ref) * np.log(cur / ref)).sum(axis=1)


@dataclass(slots=True)
class TailModel:
    """Per-feature empirical tails (HBOS-style, max over features instead of a sum): how rare is the
    most unusual single feature of a row, in -log10 of its two-sided training tail probability. The
    forest is weak at anomalies that are extreme in one feature among many; this catches them, and
    names the feature. Beyond the training range the score keeps growing with the distance."""

    grid: np.ndarray  # (n_features, TAIL_QUANTILES) training quantiles
    scale: np.ndarray  # (n_features,) spread used beyond the range (IQR, floored)

    @classmethod
    def fit(cls, X: np.ndarray) -> TailModel:
        grid = np.quantile(X, np.linspace(0, 1, TAIL_QUANTILES), axis=0).T.copy()
        iqr = grid[:, int(0.75 * (TAIL_QUANTILES - 1))] - grid[:, int(0.25 * (TAIL_QUANTILES - 1))]
        return cls(grid, np.maximum(iqr, 0.1 * np.maximum(grid[:, -1] - grid[:, 0], 1e-6)))

    def feature_scores(self, X: np.ndarray) -> np.ndarray:
        n, d = X.shape
        q = self.grid.shape[1]
        floor = 0.5 / q
        out = np.empty((n, d))
        for j in range(d):
            g, x = self.grid[j], X[:, j]
            at_least = 1.0 - np.searchsorted(g, x, side="left") / q  # share of training rows >= x
            at_most = np.searchsorted(g, x, side="right") / q  # share <= x
            p = np.maximum(np.minimum(at_least, at_most), floor)
            beyond = np.maximum(x - g[-1], g[0] - x).clip(min=0.0) / self.scale[j]
            out[:, j] = -np.log10(p) + beyond / np.log(10.0)
        return out

    def score(self, X: np.ndarray) -> np.ndarray:
        return self.feature_scores(X).max(axis=1)


@dataclass(slots=True)
class Scores:
    score: np.ndarray  # 0..1 per row; >= 0.5 means above the learned threshold of either model
    forest: np.ndarray  # isolation forest anomaly score 2^(-E[h]/c)
    recon: np.ndarray  # autoencoder reconstruction error
    tail: np.ndarray  # rarest single feature, -log10 tail probability
    Z: np.ndarray  # standardised features (for explanations)


@dataclass(slots=True)
class ModelBundle:
    mean: np.ndarray
    std: np.ndarray
    seq_mean: np.ndarray
    seq_std: np.ndarray
    forest: ForestArrays
    autoencoder: AutoencoderArrays | None
    forest_threshold: float
    forest_top: float
    ae_threshold: float
    ae_top: float
    tail: TailModel
    tail_threshold: float
    tail_top: float
    ref_edges: np.ndarray
    ref_props: np.ndarray
    medians: np.ndarray
    active: np.ndarray  # bool per feature; inactive ones are held at the training median when scoring
    metric_ae: AutoencoderArrays | None = None  # service metric windows (None: too few to train on)
    metric_threshold: float = float("inf")
    metric_top: float = float("inf")
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return str(self.metadata.get("modelVersion", "unversioned"))

    def score(self, batch: FeatureBatch) -> Scores:
        X = batch.X if self.active.all() else np.where(self.active, batch.X, self.medians)
        Z = standardise(X, self.mean, self.std)
        forest = self.forest.anomaly_score(Z)
        tail = self.tail.score(X)
        score = np.maximum(
            _calibrate(forest, self.forest_threshold, self.forest_top),
            _calibrate(tail, self.tail_threshold, self.tail_top),
        )
        if self.autoencoder is not None and batch.seq.shape[0]:
            recon = self.autoencoder.reconstruction_error(standardise(batch.seq, self.seq_mean, self.seq_std))
            score = np.maximum(score, _calibrate(recon, self.ae_threshold, self.ae_top))
        else:
            recon = np.zeros(batch.X.shape[0])
        return Scores(score=score, forest=forest, recon=recon, tail=tail, Z=Z)

    def score_metrics(self, batch: FeatureBatch) -> tuple[np.ndarray, np.ndarray]:
        """(0..1 score, reconstruction error) per metric window; zeros without a metric model."""
        m = batch.metric.shape[0]
        if self.metric_ae is None or m == 0:
            return np.zeros(m), np.zeros(m)
        recon = self.metric_ae.reconstruction_error(batch.metric)
        return _calibrate(recon, self.metric_threshold, self.metric_top), recon

    # -- persistence -------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        arrays: dict[str, np.ndarray] = {
            "mean": self.mean,
            "std": self.std,
            "seq_mean": self.seq_mean,
            "seq_std": self.seq_std,
            "thresholds": np.array(
                [
                    self.forest_threshold,
                    self.forest_top,
                    self.ae_threshold,
                    self.ae_top,
                    self.tail_threshold,
                    self.tail_top,
                ]
            ),
            "tail_grid": self.tail.grid,
            "tail_scale": self.tail.scale,
            "ref_edges": self.ref_edges,
            "ref_props": self.ref_props,
            "medians": self.medians,
            "active": self.active.astype(np.uint8),
        }
        arrays |= self.forest.to_arrays()
        if self.autoencoder is not None:
            arrays |= self.autoencoder.to_arrays()
        if self.metric_ae is not None:
            arrays |= self.metric_ae.to_arrays(prefix="mae_")
            arrays["metric_thresholds"] = np.array([self.metric_threshold, self.metric_top])
        meta = {"formatVersion": FORMAT_VERSION, "features": list(FEATURES), "seqFeatures": list(SEQ_FEATURES)}
        arrays["metadata"] = np.frombuffer(json.dumps(meta | self.metadata).encode(), dtype=np.uint8)
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> ModelBundle:
        import zipfile

        try:
            arrays = np.load(io.BytesIO(data), allow_pickle=False)
            meta = json.loads(bytes(arrays["metadata"]).decode())
        except (ValueError, KeyError, OSError, zipfile.BadZipFile) as exc:
            raise ModelFormatError(f"not an Anomaly Guardian model artifact: {exc}") from None
        if meta.get("formatVersion") != FORMAT_VERSION:
            raise ModelFormatError(f"model format {meta.get('formatVersion')!r}, this code reads {FORMAT_VERSION}")
        if tuple(meta.get("features", ())) != FEATURES or tuple(meta.get("seqFeatures", ())) != SEQ_FEATURES:
            raise ModelFormatError("model was trained on a different feature set; retrain with this version")
        t = arrays["thresholds"]
        return cls(
            mean=arrays["mean"],
            std=arrays["std"],
            seq_mean=arrays["seq_mean"],
            seq_std=arrays["seq_std"],
            forest=ForestArrays.from_arrays(arrays),
            autoencoder=AutoencoderArrays.from_arrays(arrays) if "ae_meta" in arrays.files else None,
            forest_threshold=float(t[0]),
            forest_top=float(t[1]),
            ae_threshold=float(t[2]),
            ae_top=float(t[3]),
            tail=TailModel(arrays["tail_grid"], arrays["tail_scale"]),
            tail_threshold=float(t[4]),
            tail_top=float(t[5]),
            ref_edges=arrays["ref_edges"],
            ref_props=arrays["ref_props"],
            medians=arrays["medians"],
            active=arrays["active"].astype(bool),
            metric_ae=AutoencoderArrays.from_arrays(arrays, prefix="mae_") if "mae_meta" in arrays.files else None,
            metric_threshold=float(arrays["metric_thresholds"][0])
            if "metric_thresholds" in arrays.files
            else float("inf"),
            metric_top=float(arrays["metric_thresholds"][1]) if "metric_thresholds" in arrays.files else float("inf"),
            metadata={k: v for k, v in meta.items() if k not in ("features", "seqFeatures")},
        )


def _calibrate(raw: np.ndarray, threshold: float, top: float) -> np.ndarray:
    """Map a raw model score to 0..1 with the learned threshold at 0.5 and `top` at 1.0."""
    # At or below the threshold stays below 0.5: ties at the threshold (discrete features) are not anomalies.
    below = np.minimum(0.5 * np.clip(raw / max(threshold, 1e-12), 0.0, 1.0), 0.4999)
    above = 0.5 + 0.5 * np.clip((raw - threshold) / max(top - threshold, 1e-12), 0.0, 1.0)
    return np.where(raw > threshold, above, below)
