"""The model detector: scores every user event of a batch with the exported Isolation Forest and
sequence autoencoder (NumPy only, no scikit-learn on the hot path), optionally through a SageMaker
endpoint guarded by a circuit breaker with the in-Lambda model as fallback.

Switch (env `ML_DETECTOR`): `auto` (default) runs it when a model location is configured
(`MODEL_PATH`, or `MODEL_BUCKET` + `MODEL_KEY`) and logs a warning if that model cannot be loaded;
`on` makes a missing or broken model an error; `off` never runs it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import numpy as np

from anomaly_guardian.config import DetectionConfig
from anomaly_guardian.detection.base import Finding, PreparedEvent
from anomaly_guardian.detection.model_env import ModelConfig as ModelConfig
from anomaly_guardian.ml.features import FEATURES, FeatureBatch, FeatureExtractor
from anomaly_guardian.ml.model import ModelBundle, Scores, standardise
from anomaly_guardian.models.anomaly import AnomalyType, Explanation
from anomaly_guardian.state.store import StateItem

log = logging.getLogger(__name__)


class Scorer(Protocol):
    def score(self, batch: FeatureBatch) -> Scores: ...


class SampleSink(Protocol):
    def add(self, X: np.ndarray) -> None: ...


class LocalScorer:
    """In-process NumPy scoring with the exported bundle."""

    def __init__(self, bundle: ModelBundle):
        self.bundle = bundle

    def score(self, batch: FeatureBatch) -> Scores:
        return self.bundle.score(batch)


class CircuitBreaker:
    """Closed -> open after `failures` consecutive errors; after `cooldown_s` one trial call
    (half-open) decides between closing again and another cooldown."""

    def __init__(self, failures: int = 3, cooldown_s: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self.failures, self.cooldown_s, self.clock = failures, cooldown_s, clock
        self.consecutive = 0
        self.opened_at: float | None = None

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self.clock() - self.opened_at >= self.cooldown_s else "open"

    def allow(self) -> bool:
        return self.state != "open"

    def success(self) -> None:
        self.consecutive, self.opened_at = 0, None

    def failure(self) -> None:
        self.consecutive += 1
        if self.opened_at is not None or self.consecutive >= self.failures:
            self.opened_at = self.clock()  # (re)open: a failed half-open trial waits a full cooldown


class EndpointScorer:
    """Scores through a SageMaker endpoint (`invoke(payload) -> response`, timeout set by the adapter);
    any error, timeout or malformed answer falls back to the local model and counts against the breaker."""

    def __init__(
        self,
        invoke: Callable[[dict[str, Any]], dict[str, Any]],
        fallback: LocalScorer,
        breaker: CircuitBreaker | None = None,
    ):
        self.invoke, self.fallback = invoke, fallback
        self.breaker = breaker or CircuitBreaker()
        self.fallbacks = 0

    def score(self, batch: FeatureBatch) -> Scores:
        if self.breaker.allow():
            try:
                out = self.invoke({"X": batch.X.tolist(), "seq": batch.seq.tolist()})
                score, forest, recon = (np.asarray(out[k], dtype=np.float64) for k in ("scores", "forest", "recon"))
                if score.shape != (batch.X.shape[0],):
                    raise ValueError(f"endpoint returned {score.shape[0]} scores for {batch.X.shape[0]} rows")
                self.breaker.success()
                b = self.fallback.bundle
                return Scores(
                    score=score,
                    forest=forest,
                    recon=recon,
                    tail=b.tail.score(batch.X),
                    Z=standardise(batch.X, b.mean, b.std),
                )
            except Exception as exc:  # any endpoint failure degrades to the local model
                self.breaker.failure()
                log.warning(
                    "model endpoint failed (%s); scoring locally, breaker %s", type(exc).__name__, self.breaker.state
                )
        self.fallbacks += 1
        return self.fallback.score(batch)


class ModelDetector:
    name = "ml"

    def __init__(
        self,
        scorer: Scorer,
        bundle: ModelBundle,
        sink: SampleSink | None = None,
        top_features: int = 2,
        metric_windows: bool = False,
    ):
        self.scorer, self.bundle, self.sink = scorer, bundle, sink
        # Off by default: on the project's scenario stream the metric-window autoencoder is weaker than
        # the SPC system detector (see README); its state is still kept so switching it on needs no warm-up.
        self.metric_windows = metric_windows
        self.extractor = FeatureExtractor()
        self.top_features = top_features

    def state_keys(self, ev: PreparedEvent) -> Iterable[str]:
        return self.extractor.state_keys(ev)

    def detect(self, ev: PreparedEvent, states: dict[str, StateItem], config: DetectionConfig) -> list[Finding]:
        """Per-event entry point (the pipeline prefers `detect_batch`)."""
        return [f for _i, f in self.detect_batch([ev], states, config)]

    def detect_batch(
        self, prepared: Sequence[PreparedEvent], states: dict[str, StateItem], config: DetectionConfig
    ) -> list[tuple[int, Finding]]:
        batch = self.extractor.transform(prepared, states)
        out: list[tuple[int, Finding]] = []
        if batch.rows:
            scores = self.scorer.score(batch)
            if self.sink is not None:
                self.sink.add(batch.X)
            hits = np.flatnonzero(scores.score >= config.min_score)
            out.extend((batch.rows[r], self._finding(batch, scores, int(r))) for r in hits)
        if batch.metric_rows and self.metric_windows:
            m_score, recon = self.bundle.score_metrics(batch)
            for r in np.flatnonzero(m_score >= config.min_score):
                out.append(
                    (
                        batch.metric_rows[r],
                        self._metric_finding(prepared[batch.metric_rows[r]], batch, m_score, recon, int(r)),
                    )
                )
        return out

    def _metric_finding(
        self, pe: PreparedEvent, batch: FeatureBatch, score: np.ndarray, recon: np.ndarray, r: int
    ) -> Finding:
        ev = pe.event
        entity = f"{ev.service}/{ev.metricName}"
        return Finding(
            AnomalyType.ML,
            float(score[r]),
            f"Unusual {ev.metricName} pattern for {ev.service} (model score {float(score[r]):.2f})",
            [
                Explanation(
                    feature=str(ev.metricName),
                    observed=float(ev.metricValue),
                    expected=round(float(batch.metric_level[r]), 4),
                    detail="latest value against the series' running level",
                ),
                Explanation(
                    feature="metric_window",
                    observed=round(float(recon[r]), 4),
                    expected=round(self.bundle.metric_threshold, 4),
                    detail="autoencoder reconstruction error of the last 16 values",
                ),
            ],
            detector=self.name,
            entities={"userId": entity, "service": str(ev.service)},
            extra={"modelVersion": self.bundle.version},
        )

    def _finding(self, batch: FeatureBatch, s: Scores, r: int) -> Finding:
        b = self.bundle
        forest_part = s.forest[r] > b.forest_threshold
        tail_part = s.tail[r] > b.tail_threshold
        seq_part = b.autoencoder is not None and s.recon[r] > b.ae_threshold
        explanation: list[Explanation] = []
        if tail_part:  # the rarest single feature leads: that is what made the row stand out
            rare = b.tail.feature_scores(batch.X[r : r + 1])[0]
            order = list(np.argsort(-rare)[: self.top_features])
        else:
            order = list(np.argsort(-np.abs(s.Z[r]))[: self.top_features])
        for j in order:
            explanation.append(
                Explanation(
                    feature=FEATURES[j],
                    observed=round(float(batch.X[r, j]), 4),
                    expected=round(float(b.medians[j]), 4),
                    detail=f"{float(s.Z[r, j]):+.1f} standard deviations from training data",
                )
            )
        if seq_part:
            explanation.append(
                Explanation(
                    feature="session_sequence",
                    observed=round(float(s.recon[r]), 4),
                    expected=round(b.ae_threshold, 4),
                    detail="autoencoder reconstruction error of the user's recent events",
                )
            )
        behavioural = seq_part or (tail_part and FEATURES[order[0]] in BEHAVIOURAL_FEATURES)
        kind = AnomalyType.BEHAVIORAL if behavioural and not forest_part else AnomalyType.ML
        what = "Unusual session behaviour" if kind is AnomalyType.BEHAVIORAL else "Unusual event for this user"
        return Finding(
            kind,
            float(s.score[r]),
            f"{what} (model score {float(s.score[r]):.2f}; drivers: " + ", ".join(FEATURES[j] for j in order) + ")",
            explanation,
            detector=self.name,
            extra={"modelVersion": b.version},
        )


BEHAVIOURAL_FEATURES = frozenset(
    {
        "gap_regularity",
        "events_last_5min",
        "seconds_since_last",
        "session_length",
        "requests_per_second",
        "user_agent_change",
    }
)


# ---- construction from the detector's settings ---------------------------------------------------

_CACHE: dict[str, ModelDetector | None] = {}


class ModelArtifacts(Protocol):
    """Where an S3-hosted model, a SageMaker endpoint and the feature-sample sink come from: the
    adapter `adapters.ml_artifacts.S3ModelArtifacts`, passed in by `wiring` (detection never imports
    adapters). A model at a local MODEL_PATH needs none."""

    def read_bytes(self, bucket: str, key: str) -> bytes: ...

    def artifact_store(self, bucket: str) -> Any: ...  # get(key) -> obj(data, etag) | None, head_etag(key)

    def endpoint_invoker(self, endpoint: str, timeout_s: float) -> Callable[[dict[str, Any]], dict[str, Any]]: ...

    def sample_sink(self, bucket: str, prefix: str, rate: float) -> Any: ...


def _need(artifacts: ModelArtifacts | None, what: str) -> ModelArtifacts:
    if artifacts is None:
        raise RuntimeError(f"{what} needs the model artifacts adapter (build_detectors(model_artifacts=...))")
    return artifacts


def load_bundle(location: str, artifacts: ModelArtifacts | None = None) -> ModelBundle:
    if location.startswith("s3://"):
        bucket, _, key = location[5:].partition("/")
        return ModelBundle.from_bytes(_need(artifacts, f"model {location}").read_bytes(bucket, key))
    with open(location, "rb") as fh:
        return ModelBundle.from_bytes(fh.read())


class ReloadingModelDetector:
    """The model detector over an S3 artifact that can change under it (promotion, rollback): at most
    every `refresh_s` seconds it compares the object's ETag (HeadObject) with the one it loaded and,
    on a change, loads and validates the new model; a model that fails to load is logged and the old
    one keeps scoring. Without any model yet (a fresh stack before the first promotion) it is inert:
    no findings, one HeadObject per `refresh_s`."""

    name = "ml"

    def __init__(
        self,
        head_etag: Callable[[], str | None],
        load: Callable[[], tuple[bytes, str | None]],
        build: Callable[[ModelBundle], ModelDetector],
        refresh_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._head, self._load, self._build = head_etag, load, build
        self.refresh_s, self.clock = refresh_s, clock
        self.current: ModelDetector | None = None
        self.etag: str | None = None
        self.rejected_etag: str | None = None
        self._checked_at: float | None = None
        self.reloads = 0
        self._extractor = FeatureExtractor()
        self._lock = threading.Lock()

    @property
    def bundle(self) -> ModelBundle | None:
        return self.current.bundle if self.current else None

    @property
    def sink(self) -> SampleSink | None:
        return self.current.sink if self.current else None

    def refresh(self, force: bool = False) -> bool:
        """Check the artifact now (or when `refresh_s` has passed); True when a new model was loaded.
        Serialised: a batch arriving while another thread loads the new model waits for it, so no
        batch started after the check scores with the old one (the local stack runs shards in threads)."""
        with self._lock:
            return self._refresh(force)

    def _refresh(self, force: bool) -> bool:
        now = self.clock()
        if not force and self._checked_at is not None and now - self._checked_at < self.refresh_s:
            return False
        self._checked_at = now
        try:
            etag = self._head()
        except Exception as exc:  # S3 unavailable: keep scoring with what we have
            log.warning("model check failed (%s); keeping model %s", type(exc).__name__, self._version())
            return False
        if etag is None or etag == self.etag or etag == self.rejected_etag:
            return False
        try:
            data, loaded_etag = self._load()
            detector = self._build(ModelBundle.from_bytes(data))
        except Exception as exc:
            self.rejected_etag = etag
            log.error("new model at ETag %s rejected (%s); keeping model %s", etag, exc, self._version())
            return False
        old = self.current
        if old is not None and old.sink is not None:
            try:
                old.sink.flush()  # samples belong to the model that scored them
            except Exception as exc:
                log.warning("feature sample flush failed on model change (%s)", type(exc).__name__)
        self.current, self.etag, self.rejected_etag = detector, loaded_etag or etag, None
        self.reloads += 1
        log.info("model %s loaded (was %s)", detector.bundle.version, old.bundle.version if old else None)
        return True

    def _version(self) -> str | None:
        return self.current.bundle.version if self.current else None

    def state_keys(self, ev: PreparedEvent) -> Iterable[str]:
        self.refresh()  # the pipeline asks for state keys first, once per event: a cheap clock check
        # The same keys with or without a model (subject erasure asks for them; absent items cost no write).
        return self.current.state_keys(ev) if self.current else self._extractor.state_keys(ev)

    def detect(self, ev: PreparedEvent, states: dict[str, StateItem], config: DetectionConfig) -> list[Finding]:
        return self.current.detect(ev, states, config) if self.current else []

    def detect_batch(
        self, prepared: Sequence[PreparedEvent], states: dict[str, StateItem], config: DetectionConfig
    ) -> list[tuple[int, Finding]]:
        return self.current.detect_batch(prepared, states, config) if self.current else []


def _s3_reloading(location: str, artifacts: ModelArtifacts | None, config: ModelConfig) -> ReloadingModelDetector:
    bucket, _, key = location[5:].partition("/")
    store = _need(artifacts, f"model {location}").artifact_store(bucket)

    def load() -> tuple[bytes, str | None]:
        obj = store.get(key)
        if obj is None:
            raise FileNotFoundError(location)
        return obj.data, obj.etag

    return ReloadingModelDetector(
        lambda: store.head_etag(key),
        load,
        lambda bundle: _build(bundle, artifacts, config),
        config.refresh_seconds,
    )


def model_detector(
    config: ModelConfig | None, artifacts: ModelArtifacts | None = None
) -> ModelDetector | ReloadingModelDetector | None:
    """The configured model detector, built once per process (cold start), or None when off or not
    configured. An S3 model is watched for changes (`refresh_seconds`, default 60); a file model is
    loaded once."""
    if config is None:
        return None
    mode = config.switch
    location = config.location
    cache_key = f"{config!r}|{id(artifacts) if artifacts else ''}"
    if cache_key in _CACHE:
        return _CACHE[cache_key]
    detector: ModelDetector | ReloadingModelDetector | None = None
    if mode != "off":
        if location is None:
            if mode == "on":
                raise RuntimeError(
                    "ML_DETECTOR=on but no model configured: set MODEL_PATH or MODEL_BUCKET and MODEL_KEY"
                )
        elif location.startswith("s3://"):
            if artifacts is None:  # only wiring (the detector) passes the S3 adapter
                if mode == "on":
                    raise RuntimeError(f"model {location} needs the model artifacts adapter (wiring passes it)")
                log.warning("model detector off: %s needs the model artifacts adapter", location)
            else:
                watched = _s3_reloading(location, artifacts, config)
                watched.refresh(force=True)
                if watched.current is None:
                    if mode == "on":
                        raise RuntimeError(f"ML_DETECTOR=on but no valid model at {location}")
                    log.warning("no model at %s yet: the model detector starts when one is promoted", location)
                detector = watched
        else:
            try:
                detector = _build(load_bundle(location, artifacts), artifacts, config)
            except Exception as exc:
                if mode == "on":
                    raise
                log.warning("model detector disabled: cannot load model from %s (%s)", location, exc)
    _CACHE[cache_key] = detector
    return detector


def _build(bundle: ModelBundle, artifacts: ModelArtifacts | None, config: ModelConfig) -> ModelDetector:
    local = LocalScorer(bundle)
    scorer: Scorer = local
    endpoint = config.endpoint_name
    if endpoint:
        timeout = config.endpoint_timeout_ms / 1000.0
        breaker = CircuitBreaker(config.endpoint_failures, config.endpoint_cooldown_s)
        invoker = _need(artifacts, f"endpoint {endpoint}").endpoint_invoker(endpoint, timeout)
        scorer = EndpointScorer(invoker, local, breaker)
    sink = None
    sample_bucket = config.sample_bucket
    if sample_bucket:
        sink = _need(artifacts, f"feature sampling to {sample_bucket}").sample_sink(
            sample_bucket, f"features/{bundle.version}/", config.sample_rate
        )
    return ModelDetector(scorer, bundle, sink, metric_windows=config.metric_windows)


def reset_cache() -> None:
    _CACHE.clear()
