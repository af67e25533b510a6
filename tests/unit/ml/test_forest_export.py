"""Given a fitted scikit-learn model, when exported to arrays, then NumPy scoring equals scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest
from sklearn.neural_network import MLPRegressor

from anomaly_guardian.ml.autoencoder import AutoencoderArrays, export_mlp
from anomaly_guardian.ml.forest import ForestArrays, average_path_length, export_isolation_forest


@pytest.mark.parametrize(("max_samples", "max_features", "n_features"), [(256, 1.0, 12), (100, 0.5, 7), (2000, 1.0, 3)])
def test_forest_scores_equal_sklearn_score_samples(max_samples, max_features, n_features):
    rng = np.random.default_rng(max_samples)
    X = rng.normal(size=(3000, n_features)) * rng.uniform(0.1, 50, size=n_features)
    model = IsolationForest(n_estimators=60, max_samples=max_samples, max_features=max_features, random_state=4).fit(X)
    forest = export_isolation_forest(model)

    # Fresh data, outliers and values exactly on training points (ties at split thresholds).
    probe = np.vstack([rng.normal(size=(1500, n_features)) * 80, X[:200], np.zeros((1, n_features))])

    assert np.max(np.abs(forest.score_samples(probe) - model.score_samples(probe))) <= 1e-9


def test_forest_survives_array_round_trip():
    X = np.random.default_rng(0).normal(size=(500, 4))
    model = IsolationForest(n_estimators=10, random_state=0).fit(X)
    again = ForestArrays.from_arrays(export_isolation_forest(model).to_arrays())
    assert np.max(np.abs(again.score_samples(X) - model.score_samples(X))) <= 1e-9


def test_average_path_length_matches_the_paper_formula():
    n = np.array([0, 1, 2, 3, 256])
    c = average_path_length(n)
    assert c[0] == 0.0 and c[1] == 0.0 and c[2] == 1.0
    assert c[4] == pytest.approx(2 * (np.log(255) + np.euler_gamma) - 2 * 255 / 256)


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic"])
def test_autoencoder_forward_equals_mlpregressor_predict(activation):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 10))
    model = MLPRegressor(hidden_layer_sizes=(8, 3, 8), activation=activation, max_iter=30, random_state=0)
    with pytest.warns(Warning):  # not converged in 30 iterations: irrelevant to the equality
        model.fit(X, X)
    probe = rng.normal(size=(300, 10)) * 3
    ae = AutoencoderArrays.from_arrays(export_mlp(model).to_arrays())

    assert np.max(np.abs(ae.predict(probe) - model.predict(probe))) <= 1e-9
    expected = ((model.predict(probe) - probe) ** 2).mean(axis=1)
    assert np.allclose(ae.reconstruction_error(probe), expected, atol=1e-12)
