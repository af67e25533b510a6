"""The model detector in the pipeline, its configuration switch, and the endpoint circuit breaker."""

from __future__ import annotations

import numpy as np
import pytest

from anomaly_guardian.detection import model as model_mod
from anomaly_guardian.detection.model import CircuitBreaker, EndpointScorer, LocalScorer, ModelConfig, ModelDetector
from anomaly_guardian.detection.pipeline import DetectionPipeline
from anomaly_guardian.detection.registry import build_detectors
from anomaly_guardian.ml.features import FEATURES, FeatureBatch
from anomaly_guardian.ml.model import ModelBundle, ModelFormatError
from anomaly_guardian.models.event import parse_event
from anomaly_guardian.state.store import InMemoryStateStore


def _run(bundle, events, detector=None):
    det = detector or ModelDetector(LocalScorer(bundle), bundle)
    pipeline = DetectionPipeline(InMemoryStateStore(), detectors=[det])
    out = []
    parsed = [parse_event(e) for e in events]
    for start in range(0, len(parsed), 500):
        out.extend(pipeline.process("t1", parsed[start : start + 500]))
    return out


def test_detector_flags_labelled_behavioural_anomalies_more_than_normal_events(labelled_stream, trained_bundle):
    events, labels = labelled_stream
    anomalies = _run(trained_bundle, events)
    flagged = {a.originalEvent["eventId"] for a in anomalies}
    positives = {i for i, label in labels.items() if label}
    negatives = set(labels) - positives
    recall = len(flagged & positives) / len(positives)
    fpr = len(flagged & negatives) / len(negatives)
    # Random flagging would give recall == FPR: demand a tenfold lift.
    assert recall > 10 * fpr and fpr < 0.05, (recall, fpr)

    a = anomalies[0]
    assert a.anomalyType in ("ml", "behavioral") and a.detector == "ml" and 0.5 <= a.anomalyScore <= 1
    assert a.explanation and a.explanation[0].feature in (*FEATURES, "session_sequence")
    assert a.model_dump()["modelVersion"] == trained_bundle.version


def test_bundle_round_trips_and_rejects_foreign_files(trained_bundle, tmp_path):
    again = ModelBundle.from_bytes(trained_bundle.to_bytes())
    X = np.random.default_rng(0).normal(size=(50, len(FEATURES)))
    seq = np.random.default_rng(1).normal(size=(50, trained_bundle.seq_mean.size))
    batch = FeatureBatch(X, seq, list(range(50)))
    np.testing.assert_array_equal(again.score(batch).score, trained_bundle.score(batch).score)
    with pytest.raises(ModelFormatError, match="not an Anomaly Guardian model"):
        ModelBundle.from_bytes(b"PK\x03\x04 definitely not a model")


class FakeEndpoint:
    def __init__(self, bundle, fail: bool = False):
        self.bundle, self.fail, self.calls = bundle, fail, 0

    def __call__(self, payload):
        self.calls += 1
        if self.fail:
            raise TimeoutError("read timeout")
        s = self.bundle.score(FeatureBatch(np.array(payload["X"]), np.array(payload["seq"]), []))
        return {"scores": s.score.tolist(), "forest": s.forest.tolist(), "recon": s.recon.tolist()}


def _batch(bundle, n=5):
    rng = np.random.default_rng(2)
    return FeatureBatch(rng.normal(size=(n, len(FEATURES))), rng.normal(size=(n, bundle.seq_mean.size)), list(range(n)))


def test_endpoint_scores_are_used_while_healthy(trained_bundle):
    endpoint = FakeEndpoint(trained_bundle)
    scorer = EndpointScorer(endpoint, LocalScorer(trained_bundle))
    batch = _batch(trained_bundle)
    np.testing.assert_allclose(scorer.score(batch).score, trained_bundle.score(batch).score)
    assert endpoint.calls == 1 and scorer.fallbacks == 0


def test_breaker_opens_after_n_failures_then_half_opens_after_cooldown(trained_bundle):
    now = [1000.0]
    breaker = CircuitBreaker(failures=3, cooldown_s=30, clock=lambda: now[0])
    endpoint = FakeEndpoint(trained_bundle, fail=True)
    scorer = EndpointScorer(endpoint, LocalScorer(trained_bundle), breaker)
    batch = _batch(trained_bundle)
    expected = trained_bundle.score(batch).score

    for _ in range(3):  # each failure still returns local scores
        np.testing.assert_array_equal(scorer.score(batch).score, expected)
    assert breaker.state == "open" and endpoint.calls == 3

    scorer.score(batch)  # open: the endpoint is not called at all
    assert endpoint.calls == 3 and scorer.fallbacks == 4

    now[0] += 30
    assert breaker.state == "half-open"
    scorer.score(batch)  # trial call fails: open again for a full cooldown
    assert endpoint.calls == 4 and breaker.state == "open"

    now[0] += 30
    endpoint.fail = False
    scorer.score(batch)  # trial succeeds: closed
    assert endpoint.calls == 5 and breaker.state == "closed"


def test_endpoint_answer_of_the_wrong_size_counts_as_failure(trained_bundle):
    scorer = EndpointScorer(lambda _p: {"scores": [0.9], "forest": [0.9], "recon": [0.0]}, LocalScorer(trained_bundle))
    batch = _batch(trained_bundle, n=4)
    np.testing.assert_array_equal(scorer.score(batch).score, trained_bundle.score(batch).score)
    assert scorer.breaker.consecutive == 1


@pytest.fixture
def fresh_cache():
    model_mod.reset_cache()
    yield
    model_mod.reset_cache()


def names(config: ModelConfig | None) -> list[str]:
    return [d.name for d in build_detectors(model=config)]


def test_switch_auto_adds_the_model_detector_only_when_a_model_is_configured(fresh_cache, trained_bundle, tmp_path):
    assert "ml" not in names(None) and "ml" not in names(ModelConfig())
    path = tmp_path / "model.npz"
    path.write_bytes(trained_bundle.to_bytes())
    assert names(ModelConfig(path=str(path)))[-1] == "ml"
    assert "ml" not in names(ModelConfig(switch="off", path=str(path)))


def test_switch_on_makes_a_missing_or_broken_model_an_error(fresh_cache, tmp_path):
    with pytest.raises(RuntimeError, match="MODEL_PATH"):
        names(ModelConfig(switch="on"))
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"nope")
    with pytest.raises(ModelFormatError):
        names(ModelConfig(switch="on", path=str(broken)))
    assert "ml" not in names(ModelConfig(switch="auto", path=str(broken)))  # auto: warn, run without the model
    with pytest.raises(ValueError, match="ML_DETECTOR must be auto, on or off"):
        ModelConfig(switch="maybe")


def test_the_detector_settings_name_a_bad_switch_and_carry_the_model_variables():
    from anomaly_guardian import wiring
    from anomaly_guardian.settings import DetectorSettings, SettingsError

    tables = {"STATE_TABLE": "s", "ANOMALIES_TABLE": "a", "IDEMPOTENCY_TABLE": "i", "AUDIT_TABLE": "u"}
    with pytest.raises(SettingsError, match="ML_DETECTOR: must be auto, on or off"):
        DetectorSettings.from_env(tables | {"ML_DETECTOR": "maybe"})
    env = tables | {"ML_DETECTOR": " ON ", "MODEL_BUCKET": "b", "MODEL_KEY": "k", "MODEL_REFRESH_SECONDS": "5",
                    "FEATURE_SAMPLE_BUCKET": "f", "FEATURE_SAMPLE_RATE": "1", "ML_METRIC_WINDOWS": "on"}  # fmt: skip
    config = wiring.model_config(DetectorSettings.from_env(env))
    assert (config.switch, config.location, config.refresh_seconds) == ("on", "s3://b/k", 5.0)
    assert (config.sample_bucket, config.sample_rate, config.metric_windows) == ("f", 1.0, True)


def test_metric_window_findings_only_when_switched_on():
    from anomaly_guardian.ml.training import fit_bundle, parse_stream, replay_features
    from anomaly_guardian.scenario.generator import generate

    events = generate(8000, seed=3).events
    rep = replay_features(parse_stream(events, default_tenant="t1"))
    assert len(rep.metric) >= 200
    bundle = fit_bundle(rep.X, rep.seq, n_estimators=10, ae_hidden=(8,), metric=rep.metric, seed=0)
    assert bundle.metric_ae is not None and np.isfinite(bundle.metric_threshold)
    metric_events = [e for e in events if e["eventType"] == "metric"]
    series = [
        e
        for e in metric_events
        if (e["service"], e["metricName"]) == (metric_events[0]["service"], metric_events[0]["metricName"])
    ]
    spike = dict(
        series[-1],
        eventId="spike-1",
        timestamp="2030-01-01T00:00:00Z",
        metricValue=float(series[-1]["metricValue"]) * 50 + 1000,
    )

    for switched_on in (False, True):
        det = ModelDetector(LocalScorer(bundle), bundle, metric_windows=switched_on)
        found = _run(bundle, [*series, spike], detector=det)
        spikes = [a for a in found if a.originalEvent["eventId"] == "spike-1"]
        if not switched_on:
            assert found == []
        else:
            (a,) = spikes
            assert a.anomalyType == "ml" and a.userId == f"{spike['service']}/{spike['metricName']}"
            assert a.explanation[1].feature == "metric_window"
