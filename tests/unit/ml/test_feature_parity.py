"""Given the same history, when features are built by training (replay) and by the detector
pipeline (DetectionPipeline + ModelDetector over Kinesis-sized batches), then every event gets
identical features."""

from __future__ import annotations

import numpy as np

from anomaly_guardian.detection.model import LocalScorer, ModelDetector
from anomaly_guardian.detection.pipeline import DetectionPipeline
from anomaly_guardian.ml.features import FEATURES, FeatureExtractor
from anomaly_guardian.ml.training import parse_stream, replay_features
from anomaly_guardian.models.event import parse_event
from anomaly_guardian.state.store import InMemoryStateStore, StateItem


class RecordingScorer(LocalScorer):
    def __init__(self, bundle):
        super().__init__(bundle)
        self.rows: dict[str, np.ndarray] = {}
        self.current: list[str] = []

    def score(self, batch):
        for r, i in enumerate(batch.rows):
            self.rows[self.current[i]] = batch.X[r].copy()
        return super().score(batch)


class Recorder(ModelDetector):
    def detect_batch(self, prepared, states, config):
        self.scorer.current = [pe.event.eventId for pe in prepared]
        return super().detect_batch(prepared, states, config)


def test_training_and_detector_features_are_identical(labelled_stream, trained_bundle):
    events, _ = labelled_stream
    replay = replay_features(parse_stream(events, default_tenant="t1"), batch_size=500)

    scorer = RecordingScorer(trained_bundle)
    pipeline = DetectionPipeline(InMemoryStateStore(), detectors=[Recorder(scorer, trained_bundle)])
    parsed = [parse_event(e) for e in events]
    for start in range(0, len(parsed), 500):
        pipeline.process("t1", parsed[start : start + 500])

    assert len(scorer.rows) == len(replay.event_ids) > 1000
    served = np.vstack([scorer.rows[i] for i in replay.event_ids])
    np.testing.assert_array_equal(served, replay.X)
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


def test_metric_events_are_left_to_the_system_detectors():
    pipeline = DetectionPipeline(InMemoryStateStore(), detectors=[])
    metric = _prepared(pipeline, eventType="metric", service="api", metricName="latency", metricValue=3.0)
    batch = FeatureExtractor().transform([metric], {})
    assert batch.rows == [] and batch.X.shape == (0, len(FEATURES))
