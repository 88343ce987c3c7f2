"""The train/dev/test split: deterministic, stratified, disjoint, covering, validated."""

import numpy as np
import pytest

from worker.datasets import DatasetError, load_builtin, split_dataset
from worker.datasets.dataset import make_dataset


@pytest.fixture(scope="module")
def digits():
    return load_builtin("digits")


def test_split_sizes_and_coverage(digits):
    split = split_dataset(digits, dev=0.15, test=0.15, seed=0)
    assert (len(split.y_train), len(split.y_dev), len(split.y_test)) == (1257, 270, 270)
    everything = np.concatenate([split.train_index, split.dev_index, split.test_index])
    assert sorted(everything.tolist()) == list(range(digits.n_samples))


def test_split_rows_match_their_indices(digits):
    split = split_dataset(digits, dev=0.2, test=0.1, seed=5)
    for X, y, index in ((split.X_train, split.y_train, split.train_index),
                        (split.X_dev, split.y_dev, split.dev_index),
                        (split.X_test, split.y_test, split.test_index)):
        np.testing.assert_array_equal(X, digits.X[index])
        np.testing.assert_array_equal(y, digits.y[index])


def test_split_is_deterministic_by_seed(digits):
    first = split_dataset(digits, 0.15, 0.15, seed=1)
    again = split_dataset(digits, 0.15, 0.15, seed=1)
    other = split_dataset(digits, 0.15, 0.15, seed=2)
    np.testing.assert_array_equal(first.dev_index, again.dev_index)
    np.testing.assert_array_equal(first.test_index, again.test_index)
    assert not np.array_equal(first.dev_index, other.dev_index)


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_split_is_stratified_by_class(digits, seed):
    split = split_dataset(digits, 0.15, 0.15, seed=seed)
    share = np.bincount(digits.y) / digits.n_samples
    for y in (split.y_train, split.y_dev, split.y_test):
        assert np.all(np.abs(np.bincount(y, minlength=10) - share * len(y)) <= 1.0)


def test_stratification_keeps_a_rare_class_in_every_part():
    labels = np.array([0] * 90 + [1] * 10)
    data = make_dataset("skewed", np.arange(100, dtype=float)[:, None], labels)
    split = split_dataset(data, 0.2, 0.2, seed=0)
    assert [int((y == 1).sum()) for y in (split.y_train, split.y_dev, split.y_test)] == [6, 2, 2]


def test_zero_test_fraction_gives_an_empty_test_part(digits):
    split = split_dataset(digits, 0.25, 0.0, seed=0)
    assert split.X_test.shape == (0, 64) and len(split.y_dev) == 449


@pytest.mark.parametrize(
    ("dev", "test", "seed", "fragment"),
    [
        (0.0, 0.1, 0, "split dev must be > 0"),
        (1.0, 0.0, 0, "split dev must satisfy 0 <= value < 1, got 1.0"),
        (-0.1, 0.1, 0, "split dev must satisfy 0 <= value < 1"),
        (0.2, 1.5, 0, "split test must satisfy 0 <= value < 1"),
        (0.6, 0.4, 0, "split dev + test must be < 1"),
        ("0.2", 0.1, 0, "split dev must be a number"),
        (0.2, 0.1, -1, "split seed must be an integer"),
        (0.2, 0.1, 1.5, "split seed must be an integer"),
        (0.0001, 0.1, 0, "leaves the dev part empty"),
        (0.2, 0.0001, 0, "leaves the test part empty"),
    ],
)
def test_bad_fractions_are_rejected_with_the_rule(digits, dev, test, seed, fragment):
    with pytest.raises(DatasetError) as raised:
        split_dataset(digits, dev, test, seed)
    assert fragment in str(raised.value)


def test_a_split_leaving_no_training_sample_is_rejected():
    data = make_dataset("tiny", np.arange(10, dtype=float)[:, None], np.arange(10) % 2)
    with pytest.raises(DatasetError, match="of 10 samples leaves the train part empty"):
        split_dataset(data, 0.55, 0.44, seed=0)
