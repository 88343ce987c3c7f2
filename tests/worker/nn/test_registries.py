"""The engine implements exactly the names the domain's training keys accept."""

import math

import numpy as np
import pytest

from domain.training import ACTIVATIONS, DEFAULT_DECAY_RATE, INITS, LR_DECAYS, OPTIMIZERS
from worker.nn import activations, initializers, optimizers, schedules


def test_the_activation_registry_holds_the_domains_names_in_order():
    assert tuple(activations.ACTIVATIONS) == ACTIVATIONS


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_every_activation_runs_forward_and_backward(name):
    function = activations.get(name)
    a = function.forward(np.array([-1.0, 0.5]))
    assert np.all(np.isfinite(function.backward(a, np.ones(2))))


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_name_creates_an_optimizer_that_steps(name):
    optimizer = optimizers.create(name, 0.1)
    param = np.ones(3)
    optimizer.step([param], [np.full(3, 0.5)])
    assert np.all(param < 1)


@pytest.mark.parametrize("name", LR_DECAYS)
def test_every_schedule_name_gives_a_learning_rate(name):
    rate = schedules.learning_rate(name, 0.1, 3, DEFAULT_DECAY_RATE[name], every=2)
    assert math.isfinite(rate) and 0 < rate <= 0.1


@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_init_name_resolves_to_a_scheme_with_weights(init, activation):
    scheme = initializers.resolve(init, activation)
    W = initializers.weights(scheme, 4, 3, np.random.default_rng(0), np.dtype(np.float64))
    assert W.shape == (4, 3)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: activations.get("gelu"), "activation: must be one of relu, leaky_relu"),
        (lambda: optimizers.create("adamw", 0.1), "optimizer: must be one of sgd, momentum"),
        (lambda: schedules.learning_rate("cosine", 0.1, 0, 1.0), "lr_decay: must be one of none"),
        (lambda: initializers.resolve("lecun", "relu"), "init: must be one of he, xavier, auto"),
    ],
)
def test_an_unknown_name_is_refused_naming_the_allowed_ones(build, message):
    with pytest.raises(ValueError, match=message):
        build()
