"""Parameter importance on functions whose variance decomposition is known, and the exact
main effects of one tree against a numerical integration of the same tree."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.tree import DecisionTreeRegressor

from service.search.importance import importance, main_effects, tree_leaves


def sample(n: int, dims: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).random((n, dims))


def test_a_linear_function_is_split_as_its_coefficients_say():
    """f = 10·x0 + 1·x1 + 0·x2 on the uniform cube: variances 100/12, 1/12 and 0, so the
    shares are 100/101, 1/101 and 0, with nothing left to interactions."""
    x = sample(400, 3)
    shares = importance(x, 10 * x[:, 0] + x[:, 1])
    assert shares[0] == pytest.approx(100 / 101, abs=0.01)
    assert shares[1] == pytest.approx(1 / 101, abs=0.006)
    assert shares[2] < 0.002
    assert shares[0] > 50 * shares[1] and shares[1] > 3 * shares[2]
    assert shares.sum() <= 1


def test_nonlinear_main_effects_match_their_variances():
    """f = sin(6·x0) + x1²: Var sin(6x) = 1/2 − sin(12)/24 − ((1 − cos 6)/6)², Var x² = 4/45."""
    x = sample(1000, 3)
    shares = importance(x, np.sin(6 * x[:, 0]) + x[:, 1] ** 2)
    v0 = 0.5 - np.sin(12) / 24 - ((1 - np.cos(6)) / 6) ** 2
    v1 = 4 / 45
    assert shares[:2] == pytest.approx([v0 / (v0 + v1), v1 / (v0 + v1)], abs=0.03)
    assert shares[2] < 0.005


def test_a_pure_interaction_has_no_main_effects():
    """f = (x0 − ½)(x1 − ½): every marginal is flat, so the variance is all interaction."""
    x = sample(1000, 3)
    shares = importance(x, (x[:, 0] - 0.5) * (x[:, 1] - 0.5))
    assert shares.sum() < 0.1


def test_the_same_trials_give_the_same_answer():
    x = sample(50, 4)
    y = x[:, 0] + 0.3 * x[:, 3]
    assert importance(x, y).tolist() == importance(x, y).tolist()


def test_one_trees_main_effects_are_its_marginals_variances_exactly():
    """Against the tree's own predictions on a fine grid of the unit square."""
    x = sample(60, 2, seed=4)
    tree = DecisionTreeRegressor(random_state=0).fit(x, np.sin(5 * x[:, 0]) * x[:, 1] + x[:, 1])
    exact = main_effects(tree_leaves(tree.tree_, 2))
    grid = (np.arange(2000) + 0.5) / 2000
    surface = tree.predict(np.stack(np.meshgrid(grid, grid, indexing="ij"), -1).reshape(-1, 2))
    surface = surface.reshape(len(grid), len(grid))
    total = surface.var()
    numeric = [surface.mean(axis=1).var() / total, surface.mean(axis=0).var() / total]
    assert exact == pytest.approx(numeric, abs=2e-3)


def test_a_tree_that_does_not_vary_has_no_effects():
    x = sample(20, 2)
    tree = DecisionTreeRegressor().fit(x, np.ones(20))
    assert main_effects(tree_leaves(tree.tree_, 2)) is None
    assert importance(x, np.ones(20)).tolist() == [0.0, 0.0]
