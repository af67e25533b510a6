"""Autoencoder forward pass in NumPy, from the weight matrices of a fitted MLPRegressor.

The sequence model is an MLPRegressor trained to reproduce its (standardised) input; at serving
time only its weights travel, and the reconstruction error of a row is its anomaly measure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

_ACTIVATIONS = ("identity", "relu", "tanh", "logistic")


def _activate(name: str, a: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.maximum(a, 0.0)
    if name == "tanh":
        return np.tanh(a)
    if name == "logistic":
        return 1.0 / (1.0 + np.exp(-a))
    return a


@dataclass(slots=True)
class AutoencoderArrays:
    weights: list[np.ndarray]
    biases: list[np.ndarray]
    activation: str  # hidden layers; the output layer is linear (MLPRegressor's identity)

    def predict(self, X: np.ndarray) -> np.ndarray:
        a = np.asarray(X, dtype=np.float64)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            a = a @ w + b
            if i != last:
                a = _activate(self.activation, a)
        return a

    def reconstruction_error(self, X: np.ndarray) -> np.ndarray:
        """Mean squared error per row between the input and its reconstruction."""
        X = np.asarray(X, dtype=np.float64)
        diff = self.predict(X) - X
        return np.einsum("ij,ij->i", diff, diff) / X.shape[1]

    def to_arrays(self, prefix: str = "ae_") -> dict[str, np.ndarray]:
        out = {f"{prefix}W{i}": w for i, w in enumerate(self.weights)}
        out |= {f"{prefix}b{i}": b for i, b in enumerate(self.biases)}
        out[f"{prefix}meta"] = np.array([len(self.weights), _ACTIVATIONS.index(self.activation)], dtype=np.int64)
        return out

    @classmethod
    def from_arrays(cls, arrays: Any, prefix: str = "ae_") -> AutoencoderArrays:
        layers, act = (int(v) for v in arrays[f"{prefix}meta"])
        return cls(
            weights=[arrays[f"{prefix}W{i}"].astype(np.float64) for i in range(layers)],
            biases=[arrays[f"{prefix}b{i}"].astype(np.float64) for i in range(layers)],
            activation=_ACTIVATIONS[act],
        )


def export_mlp(model: Any) -> AutoencoderArrays:
    if model.out_activation_ != "identity":
        raise ValueError(f"expected a regressor with a linear output layer, got {model.out_activation_!r}")
    if model.activation not in _ACTIVATIONS:
        raise ValueError(f"unsupported activation {model.activation!r}")
    return AutoencoderArrays(
        weights=[np.array(w, dtype=np.float64) for w in model.coefs_],
        biases=[np.array(b, dtype=np.float64) for b in model.intercepts_],
        activation=model.activation,
    )
