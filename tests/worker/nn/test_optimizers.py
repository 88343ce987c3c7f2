"""Each update rule against its METHODS.md formula, written out here step by step."""

import math

import numpy as np
import pytest

from worker.nn import optimizers

GRADIENTS = [0.5, -0.2, 0.8, 0.1]  # one scalar gradient per step
START = 1.0


def _run(optimizer: optimizers.Optimizer) -> list[float]:
    """Parameter value after each step, for a one-element parameter."""
    W = np.array([START])
    values = []
    for g in GRADIENTS:
        optimizer.step([W], [np.array([g])])
        values.append(float(W[0]))
    return values


def test_sgd():
    alpha, W, expected = 0.1, START, []
    for g in GRADIENTS:
        W -= alpha * g
        expected.append(W)
    assert _run(optimizers.SGD(alpha)) == pytest.approx(expected, rel=1e-12)


def test_momentum():
    alpha, beta, W, v, expected = 0.1, 0.9, START, 0.0, []
    for g in GRADIENTS:
        v = beta * v + (1 - beta) * g
        W -= alpha * v
        expected.append(W)
    assert _run(optimizers.Momentum(alpha, beta)) == pytest.approx(expected, rel=1e-12)


def test_rmsprop():
    alpha, beta2, eps, W, s, expected = 0.01, 0.99, 1e-8, START, 0.0, []
    for g in GRADIENTS:
        s = beta2 * s + (1 - beta2) * g * g
        W -= alpha * g / (math.sqrt(s) + eps)
        expected.append(W)
    assert _run(optimizers.RMSprop(alpha, beta2, eps)) == pytest.approx(expected, rel=1e-12)


def test_adam_with_bias_correction_counting_from_one():
    alpha, b1, b2, eps = 0.01, 0.8, 0.95, 1e-3
    W, v, s, expected = START, 0.0, 0.0, []
    for t, g in enumerate(GRADIENTS, start=1):
        v = b1 * v + (1 - b1) * g
        s = b2 * s + (1 - b2) * g * g
        v_hat, s_hat = v / (1 - b1**t), s / (1 - b2**t)
        W -= alpha * v_hat / (math.sqrt(s_hat) + eps)
        expected.append(W)
    optimizer = optimizers.Adam(alpha, b1, b2, eps)
    assert _run(optimizer) == pytest.approx(expected, rel=1e-12)
    assert optimizer.t == len(GRADIENTS)


def test_one_adam_step_from_zero_state_moves_by_alpha_g_over_abs_g_plus_eps():
    alpha, eps = 0.001, 1e-8
    g = np.array([[0.3, -2.0, 1e-6], [5.0, -1e-4, 0.05]])
    W = np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 0.5]])
    before = W.copy()
    optimizers.Adam(alpha, 0.9, 0.999, eps).step([W], [g])
    np.testing.assert_allclose(before - W, alpha * g / (np.abs(g) + eps), rtol=1e-9)


def test_state_is_per_parameter_and_gradients_are_not_changed():
    optimizer = optimizers.Adam(0.1)
    W1, W2 = np.ones(3), np.ones((2, 2))
    g1, g2 = np.full(3, 0.5), np.full((2, 2), -0.5)
    optimizer.step([W1, W2], [g1, g2])
    np.testing.assert_allclose(W1, 1 - 0.1 * 0.5 / (0.5 + 1e-8))
    np.testing.assert_allclose(W2, 1 + 0.1 * 0.5 / (0.5 + 1e-8))
    assert (g1 == 0.5).all() and (g2 == -0.5).all()


def test_learning_rate_can_change_between_steps():
    optimizer = optimizers.SGD(0.1)
    W = np.array([1.0])
    optimizer.step([W], [np.array([1.0])])
    optimizer.learning_rate = 0.01
    optimizer.step([W], [np.array([1.0])])
    assert W[0] == pytest.approx(1 - 0.1 - 0.01)


def test_float32_parameters_stay_float32():
    W = np.ones(4, np.float32)
    optimizers.Adam(0.1).step([W], [np.ones(4, np.float32)])
    assert W.dtype == np.float32


def test_unknown_optimizer_names_the_choices():
    with pytest.raises(ValueError, match="optimizer: must be one of sgd, momentum, rmsprop, adam"):
        optimizers.create("adamw", 0.1)


@pytest.mark.parametrize("name", ["sgd", "momentum", "rmsprop", "adam"])
def test_create_passes_the_settings(name):
    optimizer = optimizers.create(name, 0.05, beta1=0.8, beta2=0.9, epsilon=1e-6)
    assert optimizer.learning_rate == 0.05
    if name == "momentum":
        assert optimizer.beta == 0.8
    if name in ("rmsprop", "adam"):
        assert (optimizer.beta2, optimizer.epsilon) == (0.9, 1e-6)


@pytest.mark.parametrize("name", ["sgd", "momentum", "rmsprop", "adam"])
def test_a_loaded_state_goes_on_exactly(name):
    rng = np.random.default_rng(0)
    gradients = [rng.standard_normal(5) for _ in range(6)]
    straight, W = optimizers.create(name, 0.1), np.ones(5)
    for g in gradients:
        straight.step([W], [g])
    first, W_paused = optimizers.create(name, 0.1), np.ones(5)
    for g in gradients[:3]:
        first.step([W_paused], [g])
    state = first.state()
    first.step([W_paused.copy()], [gradients[3]])  # the state taken is a copy
    second = optimizers.create(name, 0.1)
    second.load_state(state)
    for g in gradients[3:]:
        second.step([W_paused], [g])
    assert second.t == straight.t == 6
    np.testing.assert_array_equal(W_paused, W)


def test_a_state_of_another_rule_is_refused():
    momentum = optimizers.Momentum(0.1)
    momentum.step([np.ones(2)], [np.ones(2)])
    with pytest.raises(ValueError, match=r"Adam at t=1 keeps v and s; the state holds v$"):
        optimizers.Adam(0.1).load_state(momentum.state())
    with pytest.raises(ValueError, match=r"SGD at t=1 keeps no arrays; the state holds v$"):
        optimizers.SGD(0.1).load_state(momentum.state())
