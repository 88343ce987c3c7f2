"""Parameter importance, fANOVA-style (METHODS.md section 4; Hutter, Hoos and Leyton-Brown,
ICML 2014): how much of the objective's variance over the search space each parameter
explains on its own, on a random-forest model of the completed trials.

The forest (scikit-learn's RandomForestRegressor, seeded) is fitted on the trials' params in
the unit cube (domain.space), where the samplers draw uniformly, so "variance over the
space" means over the space as it is searched: log scales by decade, a choice's values
equally. Each parameter's main effect is then computed **exactly from each tree's
partition**, as fANOVA does, not by predicting on a grid:

- a tree is a piecewise-constant function whose pieces are the boxes of its leaves, so its
  mean and variance over the unit cube are sums over leaves weighted by their volumes;
- its marginal in parameter i (the mean over every other parameter, as a function of x_i)
  is piecewise constant between the tree's thresholds on i: each leaf adds its value times
  its volume outside i to the stretch of i it spans (a difference array over those
  thresholds), so the marginal's variance is exact too;
- a parameter's importance is the mean over trees of (marginal variance / tree variance),
  trees that do not vary left out.

Exact, because a grid's marginal would depend on its resolution and a marginal averaged
over the data (partial dependence) would weigh the regions a sampler crowded (TPE, the
promoted trials of ASHA) rather than the space; and cheap, O(leaves) per tree and
parameter, with no predictions. Main effects leave out interactions, so the fractions sum
to at most 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.ensemble import RandomForestRegressor

MIN_TRIALS = 10
"""Fewer completed trials than this say nothing reliable about importance."""
TREES = 64
MAX_SAMPLES = 2000
"""Each tree is fitted on a bootstrap sample of at most this many trials: the fit's cost
stops growing with the search (every trial still counts, in some trees)."""
SEED = 0


@dataclass(frozen=True)
class Leaves:
    """A tree's leaves: each one's box in the unit cube (lows, highs: leaves × dims) and
    its value."""

    lows: NDArray[np.float64]
    highs: NDArray[np.float64]
    values: NDArray[np.float64]


def tree_leaves(tree: Any, dims: int) -> Leaves:
    """The leaf boxes of a fitted scikit-learn tree (`estimator.tree_`) over [0, 1]^dims.

    A split sends x[feature] <= threshold to the left child, the rest to the right. The
    boxes are built a depth at a time (array operations per level, not per node).
    """
    left, right = tree.children_left, tree.children_right
    feature, threshold = tree.feature, tree.threshold
    lows, highs = np.zeros((len(left), dims)), np.ones((len(left), dims))
    level = np.array([0])
    while level.size:
        inner = level[left[level] >= 0]
        i, children = feature[inner], (left[inner], right[inner])
        cut = np.clip(threshold[inner], lows[inner, i], highs[inner, i])
        for child in children:
            lows[child], highs[child] = lows[inner], highs[inner]
        highs[children[0], i] = cut
        lows[children[1], i] = cut
        level = np.concatenate(children)
    leaf = left < 0
    values = tree.value[leaf, 0, 0]
    return Leaves(lows[leaf], highs[leaf], np.asarray(values, dtype=np.float64))


def main_effects(leaves: Leaves) -> NDArray[np.float64] | None:
    """Each dimension's main-effect variance as a fraction of the tree's variance over the
    unit cube, or None for a tree that does not vary."""
    widths = leaves.highs - leaves.lows
    volumes = widths.prod(axis=1)
    mean = float(volumes @ leaves.values)
    total = float(volumes @ (leaves.values - mean) ** 2)
    if total <= 1e-12 * max(1.0, mean * mean):
        return None
    fractions = np.empty(widths.shape[1])
    for i in range(widths.shape[1]):
        # Each leaf's value times its volume outside dimension i, spread over its stretch
        # of dimension i: the marginal's density there. A zero-width leaf holds no volume.
        with np.errstate(divide="ignore", invalid="ignore"):
            outside = np.where(widths[:, i] > 0, volumes / widths[:, i], 0.0)
        cuts = np.unique(np.concatenate([leaves.lows[:, i], leaves.highs[:, i], [0.0, 1.0]]))
        steps = np.zeros(len(cuts))
        np.add.at(steps, np.searchsorted(cuts, leaves.lows[:, i]), leaves.values * outside)
        np.add.at(steps, np.searchsorted(cuts, leaves.highs[:, i]), -leaves.values * outside)
        marginal = np.cumsum(steps)[:-1]
        lengths = np.diff(cuts)
        fractions[i] = float(lengths @ (marginal - mean) ** 2) / total
    return fractions


def importance(units: NDArray[np.float64], values: Sequence[float], trees: int = TREES,
               seed: int = SEED) -> NDArray[np.float64]:
    """Each dimension's share of the objective's variance (main effects, mean over the
    forest's trees) for points in the unit cube (n × dims) and their values."""
    forest = RandomForestRegressor(n_estimators=trees, random_state=seed, n_jobs=1,
                                   max_samples=min(len(values), MAX_SAMPLES))
    forest.fit(units, np.asarray(values, dtype=np.float64))
    dims = units.shape[1]
    per_tree = [main_effects(tree_leaves(estimator.tree_, dims))
                for estimator in forest.estimators_]
    varying = [fractions for fractions in per_tree if fractions is not None]
    if not varying:
        return np.zeros(dims)
    return np.clip(np.mean(varying, axis=0), 0.0, 1.0)
