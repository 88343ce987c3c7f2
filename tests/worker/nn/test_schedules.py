"""Learning-rate decay per epoch (METHODS.md section 2), against values worked out by hand."""

import numpy as np
import pytest
from sklearn.datasets import make_classification

from domain.training import TrainingConfig
from worker.nn import schedules
from worker.nn.train import train

# alpha0 = 0.2 over epochs 0..4
CASES = {
    # alpha0 / (1 + k e), k = 0.5
    ("inverse_time", 0.5, 1): [0.2, 0.2 / 1.5, 0.1, 0.2 / 2.5, 0.2 / 3],
    # base^e alpha0, base = 0.95
    ("exponential", 0.95, 1): [0.2, 0.19, 0.1805, 0.171475, 0.16290125],
    # k alpha0 / sqrt(e + 1), k = 1
    ("inverse_sqrt", 1.0, 1): [0.2, 0.2 / 2**0.5, 0.2 / 3**0.5, 0.1, 0.2 / 5**0.5],
    # alpha0 factor^floor(e / 2), factor = 0.5
    ("staircase", 0.5, 2): [0.2, 0.2, 0.1, 0.1, 0.05],
    ("none", 0.0, 1): [0.2] * 5,
}


@pytest.mark.parametrize(("schedule", "rate", "every"), list(CASES))
def test_schedule_formula(schedule, rate, every):
    values = [schedules.learning_rate(schedule, 0.2, e, rate, every) for e in range(5)]
    assert values == pytest.approx(CASES[(schedule, rate, every)], rel=1e-12)


def test_unknown_schedule_names_the_choices():
    with pytest.raises(ValueError, match="lr_decay: must be one of none, inverse_time"):
        schedules.learning_rate("cosine", 0.1, 0, 1.0)


@pytest.mark.parametrize(("schedule", "rate", "every"), list(CASES))
def test_training_applies_the_schedule_once_per_epoch(schedule, rate, every):
    X, y = make_classification(n_samples=60, n_features=4, n_informative=3, n_redundant=0,
                               n_classes=3, random_state=0)
    config = TrainingConfig(optimizer="sgd", learning_rate=0.2, lr_decay=schedule,
                            decay_rate=rate, decay_every=every, epochs=5, hidden_units=8,
                            batch_size=16)
    rates: list[float] = []
    train(config, X, y, X, y, on_epoch=lambda report: rates.append(report.learning_rate))
    assert rates == pytest.approx(CASES[(schedule, rate, every)], rel=1e-12)


def test_default_decay_rate_comes_from_the_config():
    X, y = make_classification(n_samples=40, n_features=3, n_informative=2, n_redundant=0,
                               random_state=0)
    config = TrainingConfig(learning_rate=0.1, lr_decay="exponential", epochs=3, hidden_units=4)
    rates: list[float] = []
    train(config, X, y, X, y, on_epoch=lambda report: rates.append(report.learning_rate))
    np.testing.assert_allclose(rates, [0.1, 0.095, 0.09025])
