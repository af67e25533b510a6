"""Given the same history, when features are built by training (replay) and by the detector
pipeline (DetectionPipeline + ModelDetector over Kinesis-sized batches), then every event gets
identical features."""

from __future__ import annotations

import numpy as np

from anomaly_guardian.detection.model import LocalScorer, ModelDetector
from anomaly_guardian.detection.pipeline import DetectionPipeline
from anomaly_guardian.ml.features import FEATURES, METRIC_WINDOW, FeatureExtractor
from anomaly_guardian.ml.training import parse_stream, replay_features
from anomaly_guardian.models.event import parse_event
from anomaly_guardian.state.store import InMemoryStateStore, StateItem


class Recorder(ModelDetector):
    """The model detector's own feature step inside the real pipeline, recording what it built."""

    def __init__(self, bundle):
        super().__init__(LocalScorer(bundle), bundle)
        self.rows: dict[str, np.ndarray] = {}
        self.windows: dict[str, np.ndarray] = {}

    def detect_batch(self, prepared, states, config):
        batch = self.extractor.transform(prepared, states)
        for r, i in enumerate(batch.rows):
            self.rows[prepared[i].event.eventId] = batch.X[r].copy()
        for r, i in enumerate(batch.metric_rows):
            self.windows[prepared[i].event.eventId] = batch.metric[r].copy()
        return []


def test_training_and_detector_features_are_identical(labelled_stream, trained_bundle):
    events, _ = labelled_stream
    replay = replay_features(parse_stream(events, default_tenant="t1"), batch_size=500)

    recorder = Recorder(trained_bundle)
    pipeline = DetectionPipeline(InMemoryStateStore(), detectors=[recorder])
    parsed = [parse_event(e) for e in events]
    for start in range(0, len(parsed), 500):
        pipeline.process("t1", parsed[start : start + 500])

    assert len(recorder.rows) == len(replay.event_ids) > 1000
    served = np.vstack([recorder.rows[i] for i in replay.event_ids])
    np.testing.assert_array_equal(served, replay.X)
    assert len(recorder.windows) == len(replay.metric_ids)
    if replay.metric_ids:
        np.testing.assert_array_equal(np.vstack([recorder.windows[i] for i in replay.metric_ids]), replay.metric)
    # Not trivially equal: the running aggregates really vary.
    assert served[:, FEATURES.index("geo_distance_from_usual")].std() > 0
    assert served[:, FEATURES.index("transaction_amount_normalized")].std() > 0


def _prepared(pipeline, **fields):
    base = {"eventId": "e1", "userId": "u1", "timestamp": "2026-01-05T10:00:00Z", "eventType": "login"}
    return pipeline.prepare("t1", parse_event(base | fields))


def test_running_aggregates_come_from_state_and_update_it():
    pipeline = DetectionPipeline(InMemoryStateStore(), detectors=[])
    ex = FeatureExtractor()
    first = _prepared(pipeline, deviceId="d1", geoLocation="DE", transactionAmount=20.0, eventType="transaction")
    key = next(iter(ex.state_keys(first)))
    assert key.startswith("t1#ml#")
    states = {key: StateItem()}
    ex.transform([first], states)
    assert states[key].state["n"] == 1 and states[key].state["ld"] == first.device

    second = _prepared(pipeline, eventId="e2", timestamp="2026-01-05T10:00:30Z", deviceId="d2", geoLocation="BR")
    X = ex.transform([second], states).X[0]
    assert X[FEATURES.index("device_change_indicator")] == 1.0
    assert X[FEATURES.index("new_device")] == 1.0
    assert X[FEATURES.index("geo_distance_from_usual")] > np.log1p(8000)
    assert X[FEATURES.index("seconds_since_last")] == np.log1p(30.0)
    assert X[FEATURES.index("type_login")] == 1.0


def test_metric_events_become_windows_once_the_series_has_warmed_up():
    pipeline = DetectionPipeline(InMemoryStateStore(), detectors=[])
    ex = FeatureExtractor()
    states: dict = {}
    windows = []
    for i in range(40):
        value = 100.0 + (i % 3) if i < 39 else 400.0  # a spike at the end
        pe = _prepared(
            pipeline,
            eventId=f"m{i}",
            timestamp=f"2026-01-05T10:{i:02d}:00Z",
            eventType="metric",
            service="api",
            metricName="latency",
            metricValue=value,
        )
        for key in ex.state_keys(pe):
            states.setdefault(key, StateItem())
        batch = ex.transform([pe], states)
        assert batch.rows == [] and batch.X.shape == (0, len(FEATURES))
        windows.append(batch.metric)
    key = next(iter(states))
    assert key == "t1#ml#metric:api/latency"
    assert sum(w.shape[0] for w in windows[: 2 * METRIC_WINDOW]) == 0  # warm-up: no rows
    last = windows[-1]
    assert last.shape == (1, METRIC_WINDOW)
    assert last[0, -1] > 10 and abs(last[0, 0]) < 3  # the spike stands out against the running level


def test_metric_windows_are_identical_in_training_and_serving():
    from anomaly_guardian.scenario.generator import generate

    events = generate(3000, seed=5).events
    replay = replay_features(parse_stream(events, default_tenant="t1"), batch_size=500)
    recorder = Recorder(None)
    pipeline = DetectionPipeline(InMemoryStateStore(), detectors=[recorder])
    parsed = [parse_event(e) for e in events]
    for start in range(0, len(parsed), 500):
        pipeline.process("t1", parsed[start : start + 500])

    assert len(replay.metric_ids) > 100
    assert set(recorder.windows) == set(replay.metric_ids)
    np.testing.assert_array_equal(np.vstack([recorder.windows[i] for i in replay.metric_ids]), replay.metric)
    assert replay.metric.std() > 0
