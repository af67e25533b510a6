"""Shared fixtures: a small labelled stream and a model trained on it (session-scoped: trained once)."""

from __future__ import annotations

import numpy as np
import pytest

from anomaly_guardian.ml.synth import Generator
from anomaly_guardian.ml.training import fit_bundle, parse_stream, replay_features


@pytest.fixture(scope="session")
def labelled_stream():
    rows = list(Generator(users=60, days=8, seed=3, anomaly_rate=0.03).events())
    return [e for e, _ in rows], {e["eventId"]: label for e, label in rows}


@pytest.fixture(scope="session")
def trained_bundle(labelled_stream):
    events, labels = labelled_stream
    rep = replay_features(parse_stream(events, default_tenant="t1"))
    normal = np.array([labels[i] is None for i in rep.event_ids])
    return fit_bundle(rep.X[normal], rep.seq[normal], n_estimators=30, ae_hidden=(16, 4, 16), seed=1)
