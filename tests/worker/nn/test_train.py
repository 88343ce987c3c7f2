"""The training function: acceptance on digits, callbacks, determinism, divergence, memory."""

import json
import re
import tracemalloc
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from domain.training import TrainingConfig
from worker.nn.train import EpochReport, TrainResult, TrainStatus, standardization, train


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X_train, X_dev, y_train, y_dev = train_test_split(
        X, y, test_size=0.15, stratify=y, random_state=0
    )
    return X_train, y_train, X_dev, y_dev


def _blobs(n: int = 200, n_classes: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    centers = rng.standard_normal((n_classes, 4)) * 3
    X = centers[y] + rng.standard_normal((n, 4))
    return X * 50 + 1000, y  # far from standardized, so standardization matters


def test_digits_with_adam_and_batch_norm_reaches_97_percent_within_30_epochs(digits):
    config = TrainingConfig.from_dict({"optimizer": "adam", "batch_norm": True, "epochs": 30})
    reports: list[EpochReport] = []
    result = train(config, *digits, on_epoch=reports.append)
    assert result.status == TrainStatus.FINISHED and result.error is None
    assert result.epochs == 30 and [r.epoch for r in reports] == list(range(30))
    assert result.dev_accuracy >= 0.97
    assert result.train_accuracy >= result.dev_accuracy - 0.01
    assert reports[-1].train_loss < reports[0].train_loss
    _, accuracy = result.model.evaluate(digits[2], digits[3])
    assert accuracy == result.dev_accuracy


def test_epoch_reports_and_metrics_are_json_ready():
    X, y = _blobs()
    reports: list[EpochReport] = []
    result = train(TrainingConfig(epochs=3, hidden_units=8), X, y, X[:50], y[:50],
                   on_epoch=reports.append)
    assert list(reports[0].as_dict()) == ["train_loss", "dev_loss", "dev_accuracy",
                                          "learning_rate", "seconds"]
    assert all(isinstance(v, float) for v in reports[0].as_dict().values())
    metrics = result.metrics()
    assert list(metrics) == ["dev_accuracy", "dev_loss", "train_accuracy", "epochs", "seconds",
                             "samples_per_second"]
    assert metrics["epochs"] == 3 and metrics["samples_per_second"] > 0
    assert metrics["dev_loss"] == pytest.approx(reports[-1].dev_loss)


def test_dev_loss_is_cross_entropy_without_l2_and_train_loss_includes_it():
    X, y = _blobs()
    reports: list[EpochReport] = []
    config = TrainingConfig(epochs=1, hidden_units=8, l2=50.0, learning_rate=1e-6,
                            batch_size=len(X))
    result = train(config, X, y, X, y, on_epoch=reports.append)
    network = result.model.network
    Xs = result.model.standardize(X)
    cross_entropy = network.loss.cost(network.forward(Xs, training=False), y)
    assert reports[0].dev_loss == pytest.approx(cross_entropy, rel=1e-5)
    assert reports[0].train_loss > reports[0].dev_loss + 0.1  # the L2 term, lambda = 50


def test_returning_false_stops_training():
    X, y = _blobs()
    result = train(TrainingConfig(epochs=10, hidden_units=8), X, y, X, y,
                   on_epoch=lambda report: report.epoch < 2)
    assert result.status == TrainStatus.STOPPED and result.epochs == 3 and result.error is None


def test_same_config_and_seed_give_the_same_result():
    X, y = _blobs()
    config = TrainingConfig(epochs=4, hidden_units=16, batch_norm=True, keep_prob=0.8, seed=7)
    first, second = (train(config, X, y, X[:60], y[:60]) for _ in range(2))
    np.testing.assert_array_equal(first.model.network.flat_params,
                                  second.model.network.flat_params)
    assert first.dev_loss == second.dev_loss
    other = train(TrainingConfig(epochs=4, hidden_units=16, batch_norm=True, keep_prob=0.8,
                                 seed=8), X, y, X[:60], y[:60])
    assert not np.array_equal(first.model.network.flat_params, other.model.network.flat_params)


def test_divergence_ends_with_a_clear_result_and_no_warnings():
    X, y = _blobs()
    config = TrainingConfig(optimizer="sgd", learning_rate=1000.0, epochs=20, hidden_units=32,
                            num_layers=3)
    epochs_seen: list[int] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = train(config, X, y, X, y, on_epoch=lambda r: epochs_seen.append(r.epoch))
    assert result.status == TrainStatus.DIVERGED
    match = re.fullmatch(r"diverged at epoch (\d+) \(loss=(nan|inf)\)", result.error)
    assert match, result.error
    assert int(match.group(1)) == result.epochs == len(epochs_seen)
    json.dumps(result.metrics(), allow_nan=False)  # strict JSON even after a NaN


def test_two_classes_train_a_sigmoid_output():
    X, y = _blobs(n_classes=2)
    result = train(TrainingConfig(epochs=10, hidden_units=8, learning_rate=0.01), X, y, X, y)
    assert result.model.network.loss.n_outputs == 1
    assert result.dev_accuracy > 0.95
    assert set(np.unique(result.model.predict(X))) <= {0, 1}


def test_standardization_uses_training_statistics_and_handles_constant_features():
    X, y = _blobs()
    X[:, 2] = 7.0  # a constant feature: sigma = 0
    mu, sigma = standardization(X)
    assert sigma[2] == 1.0
    result = train(TrainingConfig(epochs=2, hidden_units=8), X, y, X[:30] + 5, y[:30])
    np.testing.assert_allclose(result.model.mu, X.mean(axis=0), rtol=1e-6)
    standardized = result.model.standardize(X[:30] + 5)
    np.testing.assert_allclose(standardized, (X[:30] + 5 - mu) / sigma, rtol=1e-5, atol=1e-5)
    assert np.isfinite(result.dev_loss)


def test_an_epoch_copies_no_more_than_the_index_order_and_a_batch():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20_000, 100)).astype(np.float32)  # 8 MB
    y = rng.integers(0, 3, len(X))
    peaks: list[int] = []

    def measure(report: EpochReport) -> None:
        if report.epoch > 0:
            peaks.append(tracemalloc.get_traced_memory()[1] - baseline[0])
        baseline[0] = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()

    baseline = [0]
    tracemalloc.start()
    try:
        train(TrainingConfig(epochs=3, hidden_units=8, batch_size=256), X, y, X[:100], y[:100],
              on_epoch=measure)
    finally:
        tracemalloc.stop()
    order_and_batch = len(X) * 8 + 256 * 100 * 4
    assert max(peaks) < order_and_batch + 1_000_000 < X.nbytes / 4


@pytest.mark.parametrize(
    ("X_dev_shape", "fragment"), [((10, 3), "X_dev: must have the 4 features"),
                                  ((10,), "X_dev: must be a 2-D array")],
)
def test_bad_data_is_named(X_dev_shape, fragment):
    X, y = _blobs()
    with pytest.raises(ValueError, match=re.escape(fragment)):
        train(TrainingConfig(epochs=1), X, y, np.zeros(X_dev_shape), np.zeros(10, int))


def test_result_type():
    X, y = _blobs()
    assert isinstance(train(TrainingConfig(epochs=1, hidden_units=4), X, y, X, y), TrainResult)


def test_labels_must_be_whole_non_negative_numbers():
    X, y = _blobs()
    result = train(TrainingConfig(epochs=1, hidden_units=4), X, y.astype(float), X, y)
    assert result.status == TrainStatus.FINISHED
    with pytest.raises(ValueError, match=r"y_train: must hold integer class labels 0..K-1"):
        train(TrainingConfig(epochs=1), X, y + 0.5, X, y)
    with pytest.raises(ValueError, match=r"y_dev: must hold integer class labels 0..K-1"):
        train(TrainingConfig(epochs=1), X, y, X, y - 1)


def test_on_batch_is_called_after_every_optimizer_step():
    X, y = _blobs(n=100)
    config = TrainingConfig(epochs=3, batch_size=32, hidden_units=4, seed=0)
    steps: list[None] = []
    steps_by_epoch_end: list[int] = []
    result = train(config, X, y, X, y,
                   on_epoch=lambda report: steps_by_epoch_end.append(len(steps)),
                   on_batch=lambda: steps.append(None))
    assert steps_by_epoch_end == [4, 8, 12]  # ceil(100 / 32) steps per epoch
    assert result.dev_loss == train(config, X, y, X, y).dev_loss, "the hook changes nothing"
