"""Layers through their public interface: batch norm's two modes, dropout, activations."""

import numpy as np
import pytest

from worker.nn import optimizers
from worker.nn.layers import BN_EPSILON, ActivationLayer, BatchNorm, Dropout
from worker.nn.network import Architecture, Network


def _trained_bn_network(seed: int = 0) -> tuple[Network, np.ndarray]:
    rng = np.random.default_rng(seed)
    network = Network(Architecture(5, (8, 6), 3, batch_norm=True), rng)
    X = (rng.standard_normal((64, 5)) * 3 + 1).astype(np.float32)
    y = rng.integers(0, 3, 64)
    optimizer = optimizers.Adam(0.01)
    for start in range(0, 64, 16):
        network.train_step(X[start:start + 16], y[start:start + 16])
        optimizer.step([network.flat_params], [network.flat_grads])
    return network, X


def test_batch_norm_at_evaluation_gives_one_example_the_same_prediction_alone_and_in_a_batch():
    network, X = _trained_bn_network()
    batch = network.forward(X[:10], training=False)
    for i in range(10):
        alone = network.forward(X[i:i + 1], training=False)
        np.testing.assert_allclose(alone[0], batch[i], rtol=1e-5, atol=1e-6)


def test_training_mode_uses_the_batch_so_an_example_alone_differs():
    network, X = _trained_bn_network()
    batch = network.forward(X[:10], training=True).copy()
    alone = network.forward(X[:1], training=True).copy()
    assert not np.allclose(alone[0], batch[0])


def test_batch_norm_evaluation_uses_the_running_averages():
    rng = np.random.default_rng(1)
    gamma, beta = rng.standard_normal(4), rng.standard_normal(4)
    norm = BatchNorm(gamma.copy(), beta.copy(), momentum=0.9)
    norm.running_mean[...] = [1.0, -1.0, 0.5, 0.0]
    norm.running_var[...] = [4.0, 0.25, 1.0, 9.0]
    z = rng.standard_normal((3, 4))
    expected = (z - norm.running_mean) / np.sqrt(norm.running_var + BN_EPSILON) * gamma + beta
    np.testing.assert_allclose(norm.forward(z.copy(), training=False), expected)


def test_running_averages_follow_the_batch_statistics_with_momentum():
    rng = np.random.default_rng(2)
    norm = BatchNorm(np.ones(3), np.zeros(3), momentum=0.8)
    batches = [rng.standard_normal((10, 3)) * 2 + 5 for _ in range(3)]
    mean, var = np.zeros(3), np.ones(3)
    for z in batches:
        mean = 0.8 * mean + 0.2 * z.mean(axis=0)
        var = 0.8 * var + 0.2 * z.var(axis=0)
        out = norm.forward(z.copy(), training=True)
    np.testing.assert_allclose(norm.running_mean, mean)
    np.testing.assert_allclose(norm.running_var, var)
    # training output: normalized by the last batch's own statistics, gamma = 1, beta = 0
    z = batches[-1]
    np.testing.assert_allclose(out, (z - z.mean(0)) / np.sqrt(z.var(0) + BN_EPSILON))


def test_batch_norm_drops_the_dense_bias():
    network = Network(Architecture(3, (4, 4), 3, batch_norm=True), np.random.default_rng(0))
    names = [name for name, _, _ in network.parameters()]
    assert names == ["W1", "gamma1", "beta1", "W2", "gamma2", "beta2", "W3", "b3"]


def test_inverted_dropout_scales_kept_units_and_is_off_at_evaluation():
    dropout = Dropout(0.8, np.random.default_rng(0))
    a = np.ones((200, 50), np.float32)
    out = dropout.forward(a, training=True)
    assert set(np.unique(out)) == {0.0, np.float32(1 / 0.8)}
    assert (out > 0).mean() == pytest.approx(0.8, abs=0.01)
    assert out.mean() == pytest.approx(1.0, abs=0.02)  # expected activation unchanged
    np.testing.assert_array_equal(a, 1.0)  # the input is kept intact
    dout = np.full_like(a, 2.0)
    np.testing.assert_array_equal(dropout.backward(dout), np.where(out > 0, 2.0 / 0.8, 0.0))
    assert dropout.forward(a, training=False) is a


def test_network_with_dropout_predicts_deterministically_at_evaluation():
    rng = np.random.default_rng(0)
    network = Network(Architecture(4, (16,), 3, keep_prob=0.5), rng)
    X = rng.standard_normal((20, 4)).astype(np.float32)
    first = network.forward(X, training=False).copy()
    np.testing.assert_array_equal(network.forward(X, training=False), first)


@pytest.mark.parametrize(
    ("name", "function", "derivative"),
    [
        ("relu", lambda z: np.maximum(z, 0), lambda z: (z > 0).astype(float)),
        ("leaky_relu", lambda z: np.where(z > 0, z, 0.01 * z), lambda z: np.where(z > 0, 1, 0.01)),
        ("tanh", np.tanh, lambda z: 1 - np.tanh(z) ** 2),
        ("sigmoid", lambda z: 1 / (1 + np.exp(-z)),
         lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
    ],
)
def test_activation_values_and_derivatives(name, function, derivative):
    z = np.array([[-3.0, -0.5, 0.2, 2.5]])
    layer = ActivationLayer(name)
    np.testing.assert_allclose(layer.forward(z.copy(), training=True), function(z), rtol=1e-12)
    da = np.array([[1.0, 2.0, -1.0, 0.5]])
    np.testing.assert_allclose(layer.backward(da.copy()), da * derivative(z), rtol=1e-12)


def test_sigmoid_stays_finite_for_large_inputs():
    with np.errstate(all="raise"):
        out = ActivationLayer("sigmoid").forward(np.array([[-1000.0, 1000.0]]), training=False)
    np.testing.assert_array_equal(out, [[0.0, 1.0]])
