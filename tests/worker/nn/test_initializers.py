"""Initialization scales (METHODS.md section 2) and the output kind per class count."""

import numpy as np
import pytest

from worker.nn import initializers, losses
from worker.nn.network import Architecture, Network


@pytest.mark.parametrize(("scheme", "variance"), [("he", 2 / 400), ("xavier", 1 / 400)])
def test_weight_variance(scheme, variance):
    W = initializers.weights(scheme, 400, 300, np.random.default_rng(0), np.float64)
    assert W.shape == (400, 300)
    assert W.mean() == pytest.approx(0, abs=0.002)
    assert W.var() == pytest.approx(variance, rel=0.02)


@pytest.mark.parametrize(
    ("activation", "scheme"),
    [("relu", "he"), ("leaky_relu", "he"), ("tanh", "xavier"), ("sigmoid", "xavier")],
)
def test_auto_picks_by_activation(activation, scheme):
    assert initializers.resolve("auto", activation) == scheme
    assert initializers.resolve("xavier", activation) == "xavier"


def test_network_biases_start_at_zero_and_weights_follow_the_scheme():
    network = Network(Architecture(500, (400,), 3, activation="tanh"), np.random.default_rng(0),
                      dtype=np.float64)
    params = {name: p for name, p, _ in network.parameters()}
    assert not params["b1"].any() and not params["b2"].any()
    assert params["W1"].var() == pytest.approx(1 / 500, rel=0.02)


def test_two_classes_use_one_sigmoid_output_and_more_use_softmax():
    assert isinstance(losses.for_classes(2), losses.SigmoidBinaryCrossEntropy)
    assert isinstance(losses.for_classes(5), losses.SoftmaxCrossEntropy)
    binary = Network(Architecture(3, (4,), 2), np.random.default_rng(0))
    assert {name: p.shape for name, p, _ in binary.parameters()}["W2"] == (4, 1)
    with pytest.raises(ValueError, match="n_classes"):
        losses.for_classes(1)


def test_costs_match_their_formulas():
    logits = np.array([[2.0, -1.0, 0.5], [0.0, 0.0, 3.0]])
    y = np.array([0, 1])
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = -np.mean(np.log(p[[0, 1], y]))
    softmax = losses.SoftmaxCrossEntropy(3)
    assert softmax.cost(logits, y) == pytest.approx(expected)
    cost, grad = softmax.cost_and_gradient(logits.copy(), y)
    assert cost == pytest.approx(expected)
    np.testing.assert_allclose(grad, (p - np.eye(3)[y]) / 2)

    z = np.array([[1.5], [-0.3], [4.0]])
    y2 = np.array([1, 0, 0])
    s = 1 / (1 + np.exp(-z[:, 0]))
    expected = -np.mean(y2 * np.log(s) + (1 - y2) * np.log(1 - s))
    binary = losses.SigmoidBinaryCrossEntropy()
    cost, grad = binary.cost_and_gradient(z.copy(), y2)
    assert cost == pytest.approx(expected) == binary.cost(z, y2)
    np.testing.assert_allclose(grad[:, 0], (s - y2) / 3)
