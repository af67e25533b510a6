"""Isolation Forest scoring in NumPy, from arrays exported out of a fitted scikit-learn model.

The Lambda never imports scikit-learn: training exports every tree as flat node arrays and this
module walks all trees for a whole batch at once. Leaves point to themselves with an infinite
threshold, so a fixed number of steps (the forest's maximum depth) lands every row on its leaf
without branching. The value stored at each leaf is scikit-learn's own path length: the leaf's
depth plus the average path length c(n) of the unsplit samples left in it, so `score_samples`
matches scikit-learn's to floating-point rounding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


def average_path_length(n: np.ndarray) -> np.ndarray:
    """c(n): average path length of an unsuccessful BST search over n points (Liu et al. 2008)."""
    n = np.asarray(n, dtype=np.float64)
    out = np.zeros_like(n)
    out[n == 2] = 1.0
    big = n > 2
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


@dataclass(slots=True)
class ForestArrays:
    left: np.ndarray  # int32, global node ids; a leaf points to itself
    right: np.ndarray
    feature: np.ndarray  # int32, column of X (after the tree's feature subset)
    threshold: np.ndarray  # float64; +inf at leaves
    value: np.ndarray  # float64 path length at leaves (depth + c(n_leaf))
    roots: np.ndarray  # int32, one per tree
    steps: int  # max depth over trees
    denominator: float  # n_trees * c(max_samples)
    # Derived for the scoring loop: children interleaved [right, left] per node (index 2*node + went_left),
    # thresholds rounded *down* to float32 (for a float32 x: x <= t64 exactly when x <= floor32(t64)).
    _children: np.ndarray = field(init=False, repr=False)
    _thr32: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n = self.left.size
        children = np.empty(2 * n, dtype=np.int32)
        children[0::2], children[1::2] = self.right, self.left
        thr32 = self.threshold.astype(np.float32)
        over = thr32.astype(np.float64) > self.threshold
        thr32[over] = np.nextafter(thr32[over], np.float32(-np.inf))
        self._children, self._thr32 = children, thr32

    def to_arrays(self, prefix: str = "if_") -> dict[str, np.ndarray]:
        return {
            f"{prefix}left": self.left,
            f"{prefix}right": self.right,
            f"{prefix}feature": self.feature,
            f"{prefix}threshold": self.threshold,
            f"{prefix}value": self.value,
            f"{prefix}roots": self.roots,
            f"{prefix}meta": np.array([self.steps, self.denominator], dtype=np.float64),
        }

    @classmethod
    def from_arrays(cls, arrays: Any, prefix: str = "if_") -> ForestArrays:
        meta = arrays[f"{prefix}meta"]
        return cls(
            left=arrays[f"{prefix}left"].astype(np.int32),
            right=arrays[f"{prefix}right"].astype(np.int32),
            feature=arrays[f"{prefix}feature"].astype(np.int32),
            threshold=arrays[f"{prefix}threshold"].astype(np.float64),
            value=arrays[f"{prefix}value"].astype(np.float64),
            roots=arrays[f"{prefix}roots"].astype(np.int32),
            steps=int(meta[0]),
            denominator=float(meta[1]),
        )

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        """Same as IsolationForest.score_samples: the opposite of the anomaly score (lower = more abnormal)."""
        return -self.anomaly_score(X)

    def anomaly_score(self, X: np.ndarray, chunk: int = 1024) -> np.ndarray:
        """2 ** (-E[h(x)] / c(max_samples)) in (0, 1]; above 0.5 leans anomalous."""
        # scikit-learn scores float32 inputs against float64 thresholds; see _thr32 for exactness.
        Xf = np.ascontiguousarray(X, dtype=np.float32)
        n = Xf.shape[0]
        if self.denominator == 0:
            return np.ones(n)
        out = np.empty(n)
        for start in range(0, n, chunk):  # chunks keep the (trees x rows) work arrays in cache
            out[start : start + chunk] = self._depths(Xf[start : start + chunk])
        return 2.0 ** (-out / self.denominator)

    def _depths(self, Xf: np.ndarray) -> np.ndarray:
        n, d = Xf.shape
        t = self.roots.size
        flat = Xf.ravel()
        base = np.broadcast_to((np.arange(n, dtype=np.int32) * d)[None, :], (t, n))
        node = np.repeat(self.roots[:, None], n, axis=1)
        nxt = np.empty((t, n), np.int32)
        idx = np.empty((t, n), np.int32)
        val = np.empty((t, n), np.float32)
        thr = np.empty((t, n), np.float32)
        left = np.empty((t, n), bool)
        for _ in range(self.steps):  # leaves loop onto themselves, so every row may take all steps
            np.take(self.feature, node, out=idx)
            np.add(idx, base, out=idx)
            np.take(flat, idx, out=val)
            np.take(self._thr32, node, out=thr)
            np.less_equal(val, thr, out=left)
            np.left_shift(node, 1, out=node)
            np.add(node, left, out=node, casting="unsafe")
            np.take(self._children, node, out=nxt)
            node, nxt = nxt, node
        return self.value[node].sum(axis=0)


def export_isolation_forest(model: Any) -> ForestArrays:
    """Flatten a fitted sklearn IsolationForest (training side only: imports nothing from sklearn)."""
    lefts, rights, feats, thrs, vals, roots = [], [], [], [], [], []
    offset, steps = 0, 0
    n_features = model.n_features_in_
    subsample = model._max_features != n_features
    for est, est_features in zip(model.estimators_, model.estimators_features_, strict=True):
        tree = est.tree_
        count = tree.node_count
        leaf = tree.children_left == -1
        ids = np.arange(count, dtype=np.int64)
        left = np.where(leaf, ids, tree.children_left) + offset
        right = np.where(leaf, ids, tree.children_right) + offset
        feature = np.where(leaf, 0, tree.feature)
        if subsample:
            feature = np.asarray(est_features)[feature]
        threshold = np.where(leaf, np.inf, tree.threshold)
        # Same quantities scikit-learn sums per tree: decision path length + c(n) - 1.
        depth = np.asarray(tree.compute_node_depths(), dtype=np.float64)
        value = depth + average_path_length(tree.n_node_samples) - 1.0
        lefts.append(left)
        rights.append(right)
        feats.append(feature)
        thrs.append(threshold)
        vals.append(np.where(leaf, value, 0.0))
        roots.append(offset)
        steps = max(steps, int(tree.max_depth))
        offset += count
    denominator = len(model.estimators_) * float(average_path_length(np.array([model._max_samples]))[0])
    return ForestArrays(
        left=np.concatenate(lefts).astype(np.int32),
        right=np.concatenate(rights).astype(np.int32),
        feature=np.concatenate(feats).astype(np.int32),
        threshold=np.concatenate(thrs).astype(np.float64),
        value=np.concatenate(vals).astype(np.float64),
        roots=np.array(roots, dtype=np.int32),
        steps=steps,
        denominator=denominator,
    )
