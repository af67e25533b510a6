"""Training-side helpers: replay history through the serving feature code, fit, export, evaluate.

Only this module (and the ml/ scripts) import scikit-learn, lazily; the detector never imports it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from anomaly_guardian.detection.base import PreparedEvent
from anomaly_guardian.ml.features import FEATURES, METRIC_WINDOW, SEQ_FEATURES, FeatureBatch, FeatureExtractor
from anomaly_guardian.ml.model import ModelBundle, TailModel, bin_counts, reference_edges
from anomaly_guardian.models.event import Event, parse_event
from anomaly_guardian.privacy import Pseudonymiser
from anomaly_guardian.state.store import InMemoryStateStore, StateStore

REPLAY_BATCH = 500  # the detector's Kinesis batch size: replay in the same shape


@dataclass(slots=True)
class Replay:
    X: np.ndarray
    seq: np.ndarray
    event_ids: list[str]
    tenants: list[str]
    metric: np.ndarray = field(default_factory=lambda: np.zeros((0, METRIC_WINDOW)))
    metric_ids: list[str] = field(default_factory=list)


def prepare(tenant: str, event: Event, pseudonymiser: Pseudonymiser) -> PreparedEvent:
    """The detector pipeline's own preparation step (imported there), so ids hash identically."""
    from anomaly_guardian.detection.pipeline import DetectionPipeline

    return DetectionPipeline.prepare(_PrepShim(pseudonymiser), tenant, event)  # type: ignore[arg-type]


class _PrepShim:
    def __init__(self, pseudonymiser: Pseudonymiser):
        self.pseudonymiser = pseudonymiser


def replay_features(
    events: Iterable[tuple[str, Event]],
    store: StateStore | None = None,
    pseudonymiser: Pseudonymiser | None = None,
    batch_size: int = REPLAY_BATCH,
) -> Replay:
    """Run (tenant, event) history through FeatureExtractor exactly as the detector would."""
    store = store or InMemoryStateStore()
    pseudonymiser = pseudonymiser or Pseudonymiser()
    extractor = FeatureExtractor()
    xs, seqs, ids, tenants, metrics, metric_ids = [], [], [], [], [], []
    pending: list[PreparedEvent] = []

    def flush() -> None:
        by_tenant: dict[str, list[PreparedEvent]] = {}
        for pe in pending:
            by_tenant.setdefault(pe.tenant, []).append(pe)
        for _tenant, group in by_tenant.items():
            group.sort(key=lambda p: p.epoch)
            keys = {k for pe in group for k in extractor.state_keys(pe)}
            states = store.load(keys)
            batch = extractor.transform(group, states)
            store.save(states)
            xs.append(batch.X)
            seqs.append(batch.seq)
            ids.extend(group[i].event.eventId for i in batch.rows)
            tenants.extend(group[i].tenant for i in batch.rows)
            metrics.append(batch.metric)
            metric_ids.extend(group[i].event.eventId for i in batch.metric_rows)
        pending.clear()

    for tenant, event in events:
        pending.append(prepare(tenant, event, pseudonymiser))
        if len(pending) >= batch_size:
            flush()
    flush()
    X = np.vstack(xs) if xs else np.zeros((0, len(FEATURES)))
    seq = np.vstack(seqs) if seqs else np.zeros((0, len(SEQ_FEATURES)))
    metric = np.vstack(metrics) if metrics else np.zeros((0, METRIC_WINDOW))
    return Replay(X, seq, ids, tenants, metric, metric_ids)


def parse_stream(rows: Iterable[dict[str, Any]], default_tenant: str = "demo") -> Iterable[tuple[str, Event]]:
    """Rows are events, or {"tenantId", "event"} envelopes (the Kinesis record format)."""
    for row in rows:
        if "event" in row and isinstance(row["event"], dict):
            yield row.get("tenantId", default_tenant), parse_event(row["event"])
        else:
            yield default_tenant, parse_event({k: v for k, v in row.items() if not k.startswith("_")})


def fit_bundle(
    X: np.ndarray,
    seq: np.ndarray,
    contamination: float = 0.01,
    n_estimators: int = 100,
    max_samples: int = 256,
    ae_hidden: Sequence[int] = (32, 8, 32),
    ae_max_rows: int = 20_000,
    seed: int = 0,
    calibration_fraction: float = 0.25,
    metric: np.ndarray | None = None,
    metadata: dict[str, Any] | None = None,
) -> ModelBundle:
    """Fit the Isolation Forest and the sequence autoencoder on (mostly) normal rows and export both."""
    import warnings

    from sklearn.ensemble import IsolationForest
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    from anomaly_guardian.ml.autoencoder import export_mlp
    from anomaly_guardian.ml.forest import export_isolation_forest
    from anomaly_guardian.ml.model import standardise

    if X.shape[0] < 50:
        raise ValueError(f"need at least 50 training rows, got {X.shape[0]}")
    active = calendar_coverage(X)
    medians = np.median(X, axis=0)
    raw = X  # drift reference: what the detector will actually observe
    X = np.where(active, X, medians)  # what the bundle feeds the models for inactive features
    mean, std = X.mean(axis=0), X.std(axis=0)
    Z = standardise(X, mean, std)
    forest_model = IsolationForest(n_estimators=n_estimators, max_samples=min(max_samples, len(Z)), random_state=seed)
    # Fit on the earlier rows, set thresholds on the later ones (time order): thresholds then reflect
    # how the models do on data they have not seen, as in production.
    cut = int(len(Z) * (1.0 - calibration_fraction)) if len(Z) >= 200 else len(Z)
    calib = slice(cut, None) if cut < len(Z) else slice(None)
    forest_model.fit(Z[:cut])
    forest = export_isolation_forest(forest_model)
    f_scores = forest.anomaly_score(Z[calib])

    seq_mean, seq_std = seq.mean(axis=0), seq.std(axis=0)
    S = standardise(seq, seq_mean, seq_std)
    rng = np.random.default_rng(seed)
    fit_pool = S[:cut]
    fit_rows = (
        fit_pool if len(fit_pool) <= ae_max_rows else fit_pool[rng.choice(len(fit_pool), ae_max_rows, replace=False)]
    )
    ae_model = MLPRegressor(
        hidden_layer_sizes=tuple(ae_hidden),
        max_iter=80,
        random_state=seed,
        early_stopping=True,
        n_iter_no_change=5,
        learning_rate_init=3e-3,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ae_model.fit(fit_rows, fit_rows)
    ae = export_mlp(ae_model)
    errors = ae.reconstruction_error(S[calib])

    edges = reference_edges(raw)
    counts = bin_counts(raw, edges)
    tail = TailModel.fit(X[:cut])
    t_scores = tail.score(X[calib])
    q = 1.0 - contamination / 3  # three scorers, any can flag: split the budget between them
    metric_ae, metric_threshold, metric_top = fit_metric_autoencoder(metric, contamination, calibration_fraction, seed)
    return ModelBundle(
        metric_ae=metric_ae,
        metric_threshold=metric_threshold,
        metric_top=metric_top,
        mean=mean,
        std=std,
        seq_mean=seq_mean,
        seq_std=seq_std,
        forest=forest,
        autoencoder=ae,
        forest_threshold=float(np.quantile(f_scores, q)),
        forest_top=float(f_scores.max()),
        ae_threshold=float(np.quantile(errors, q)),
        ae_top=float(max(errors.max(), np.quantile(errors, q) * 4)),
        tail=tail,
        tail_threshold=float(np.quantile(t_scores, q)),
        tail_top=float(np.quantile(t_scores, q) + 3.0),  # three more orders of magnitude rarer: score 1.0
        ref_edges=edges,
        ref_props=counts / counts.sum(axis=1, keepdims=True),
        medians=medians,
        active=active,
        metadata={
            "modelVersion": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
            "trainedRows": int(X.shape[0]),
            "contamination": contamination,
            "nEstimators": n_estimators,
            "inactiveFeatures": [FEATURES[j] for j in np.flatnonzero(~active)],
        }
        | (metadata or {}),
    )


def fit_metric_autoencoder(
    metric: np.ndarray | None, contamination: float, calibration_fraction: float, seed: int
) -> tuple[Any, float, float]:
    """Autoencoder over service-metric windows; (None, inf, inf) with fewer than 200 windows."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    from anomaly_guardian.ml.autoencoder import export_mlp

    if metric is None or len(metric) < 200:
        return None, float("inf"), float("inf")
    cut = int(len(metric) * (1.0 - calibration_fraction))
    model = MLPRegressor(
        hidden_layer_sizes=(8, 3, 8),
        max_iter=150,
        random_state=seed,
        early_stopping=True,
        n_iter_no_change=8,
        learning_rate_init=3e-3,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(metric[:cut], metric[:cut])
    ae = export_mlp(model)
    errors = ae.reconstruction_error(metric[cut:])
    threshold = float(np.quantile(errors, 1.0 - contamination))
    return ae, threshold, float(max(errors.max(), threshold * 4))


def calendar_coverage(X: np.ndarray) -> np.ndarray:
    """Calendar features only mean something once training covers a whole cycle: day_of_week needs
    every weekday in the history, hour_of_day every hour. Otherwise a new day looks like an anomaly."""
    from anomaly_guardian.ml.features import F

    active = np.ones(X.shape[1], dtype=bool)
    if np.unique(X[:, F["day_of_week"]]).size < 7:
        active[F["day_of_week"]] = False
    if np.unique(np.floor(X[:, F["hour_of_day"]])).size < 24:
        active[F["hour_of_day"]] = False
    return active


def evaluate_scores(
    y: np.ndarray, score: np.ndarray, threshold: float = 0.5, cost_fp: float = 1.0, cost_fn: float = 25.0
) -> dict[str, float]:
    """The figures evaluation.json carries (threshold-free AUCs and threshold-bound counts/costs)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = np.asarray(y).astype(bool)
    pred = score >= threshold
    tp, fp = int((pred & y).sum()), int((pred & ~y).sum())
    fn, tn = int((~pred & y).sum()), int((~pred & ~y).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    both = y.any() and (~y).any()
    return {
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "roc_auc": float(roc_auc_score(y, score)) if both else float("nan"),
        "pr_auc": float(average_precision_score(y, score)) if both else float("nan"),
        "false_positive_rate": fp / (fp + tn) if fp + tn else 0.0,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "cost_false_positives": fp * cost_fp,
        "cost_false_negatives": fn * cost_fn,
        "cost_total": fp * cost_fp + fn * cost_fn,
        "threshold": threshold,
    }


def score_rows(bundle: ModelBundle, X: np.ndarray, seq: np.ndarray) -> np.ndarray:
    return bundle.score(FeatureBatch(X, seq, list(range(len(X))))).score
