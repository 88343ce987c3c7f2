"""Backprop against two-sided differences (METHODS.md section 3), through the public check."""

import numpy as np
import pytest

from worker.nn import gradcheck, optimizers
from worker.nn.gradcheck import check_gradients, relative_difference, verdict
from worker.nn.layers import BatchNorm, Dropout
from worker.nn.network import Architecture, Network

ACTIVATIONS = ["relu", "leaky_relu", "tanh", "sigmoid"]


def _network_and_batch(seed: int = 0, samples: int = 4, **arch):
    rng = np.random.default_rng(seed)
    settings = {"n_features": 4, "hidden": (6,), "n_classes": 3, "init": "he", "l2": 0.1,
                **arch}
    network = Network(Architecture(**settings), rng, dtype=np.float64)
    X = rng.standard_normal((samples, settings["n_features"]))
    y = rng.integers(0, settings["n_classes"], samples)
    return network, X, y


def _assert_all_fine(result: gradcheck.GradientCheck) -> None:
    assert result.difference < 1e-7, result
    for check in result.parameters:
        assert check.difference < 1e-7, check
        assert check.verdict == "fine"


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("n_classes", [2, 4], ids=["sigmoid-output", "softmax-output"])
def test_every_parameter_matches_with_each_activation(activation, batch_norm, n_classes):
    network, X, y = _network_and_batch(
        activation=activation, batch_norm=batch_norm, n_classes=n_classes
    )
    result = check_gradients(network, X, y)
    expected = ["W1", "gamma1", "beta1", "W2", "b2"] if batch_norm else ["W1", "b1", "W2", "b2"]
    assert [check.name for check in result.parameters] == expected
    assert result.kinks == 0
    _assert_all_fine(result)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "tanh"])
@pytest.mark.parametrize("batch_norm", [False, True])
def test_two_hidden_layers_with_l2_match(activation, batch_norm):
    network, X, y = _network_and_batch(
        hidden=(8, 6), activation=activation, batch_norm=batch_norm, l2=0.7
    )
    _assert_all_fine(check_gradients(network, X, y))


def test_matches_again_after_some_training():
    network, X, y = _network_and_batch(hidden=(8, 6), activation="tanh", batch_norm=True)
    optimizer = optimizers.Adam(learning_rate=0.05)
    for _ in range(10):
        network.train_step(X, y)
        optimizer.step([network.flat_params], [network.flat_grads])
    _assert_all_fine(check_gradients(network, X, y))


def test_dropout_is_off_while_checking_and_restored_after():
    network, X, y = _network_and_batch(activation="tanh", batch_norm=True, keep_prob=0.5)
    norm = next(layer for layer in network.layers if isinstance(layer, BatchNorm))
    running = norm.running_mean.copy(), norm.running_var.copy()
    _assert_all_fine(check_gradients(network, X, y))
    assert next(layer for layer in network.layers if isinstance(layer, Dropout)).keep_prob == 0.5
    np.testing.assert_array_equal(norm.running_mean, running[0])
    np.testing.assert_array_equal(norm.running_var, running[1])


def test_a_wrong_backward_is_reported_as_a_bug(monkeypatch):
    """Treating the batch mean as a constant shift (no mean terms) must not pass."""

    def shift_only_backward(self, dout):
        self.grads["beta"][...] = dout.sum(axis=0)
        self.grads["gamma"][...] = (dout * self._centered * self._inv_std).sum(axis=0)
        return dout * self._scale

    network, X, y = _network_and_batch(activation="tanh", batch_norm=True)
    monkeypatch.setattr(BatchNorm, "backward", shift_only_backward)
    result = check_gradients(network, X, y)
    assert result.verdict == "bug"
    by_name = {check.name: check for check in result.parameters}
    assert by_name["W1"].verdict == "bug"
    assert by_name["W2"].verdict == "fine"


def test_the_l2_term_is_part_of_the_checked_cost(monkeypatch):
    """Doubling lambda in the cost but not in the gradient must not pass."""
    network, X, y = _network_and_batch(activation="tanh", l2=0.5)
    l2_cost = Network.l2_cost
    monkeypatch.setattr(Network, "l2_cost", lambda self, m: 2 * l2_cost(self, m))
    assert check_gradients(network, X, y).verdict in ("suspect", "bug")


def test_relu_kinks_are_counted():
    # Zero biases and an all-zero row of relu outputs put the next layer's
    # pre-activations exactly on the kink; the check says so.
    network, X, y = _network_and_batch(hidden=(1, 1), activation="relu", samples=8)
    assert check_gradients(network, X, y).kinks > 0


def test_needs_float64():
    rng = np.random.default_rng(0)
    network = Network(Architecture(3, (4,), 3), rng, dtype=np.float32)
    with pytest.raises(ValueError, match="float64"):
        check_gradients(network, rng.standard_normal((4, 3)), np.array([0, 1, 2, 0]))


@pytest.mark.parametrize(
    ("difference", "expected"),
    [(0.0, "fine"), (9.9e-8, "fine"), (1e-7, "look at it"), (1e-5, "look at it"),
     (2e-5, "suspect"), (1e-3, "suspect"), (1.1e-3, "bug")],
)
def test_verdicts(difference, expected):
    assert verdict(difference) == expected


def test_relative_difference_formula():
    approx, grad = np.array([3.0, 4.0]), np.array([3.0, 0.0])
    assert relative_difference(approx, grad) == pytest.approx(4.0 / (5.0 + 3.0))
    assert relative_difference(np.zeros(3), np.zeros(3)) == 0.0
