"""A deterministic train/dev/test split, stratified by class.

Within each class the samples are shuffled (seeded); sample i of a class of
size n_c gets the rank (i + 0.5) / n_c, and all samples are ordered by rank
(ties broken at random, seeded). Every prefix of that order holds each class
in about its overall share, so cutting it into dev, test and train gives
stratified splits of exactly the requested sizes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from domain.datasets import DatasetError
from worker.datasets.dataset import Dataset


@dataclass(frozen=True, eq=False)
class Split:
    """The three parts of a dataset, and which rows of it each part took."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_dev: np.ndarray
    y_dev: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    train_index: np.ndarray
    dev_index: np.ndarray
    test_index: np.ndarray


def _fraction(field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DatasetError(f"split {field} must be a number with 0 <= value < 1, got {value!r}")
    if not 0 <= value < 1:
        raise DatasetError(f"split {field} must satisfy 0 <= value < 1, got {value!r}")
    return float(value)


def check_split(dev: Any, test: Any, seed: Any) -> tuple[float, float, int]:
    """Validate split fractions and seed without a dataset; return them in canonical types."""
    dev, test = _fraction("dev", dev), _fraction("test", test)
    if dev == 0:
        raise DatasetError("split dev must be > 0: training reports dev metrics every epoch")
    if dev + test >= 1:
        raise DatasetError(f"split dev + test must be < 1 to leave a training set, got "
                           f"{dev} + {test} = {dev + test:g}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise DatasetError(f"split seed must be an integer with 0 <= value < 2**32, "
                           f"got {seed!r}")
    return dev, test, seed


def split_sizes(n_samples: int, dev: float, test: float) -> tuple[int, int, int]:
    """(train, dev, test) sizes; DatasetError if a part that should exist would be empty."""
    n_dev = round(dev * n_samples)
    n_test = round(test * n_samples)
    n_train = n_samples - n_dev - n_test
    for part, size, wanted in (("dev", n_dev, True), ("test", n_test, test > 0),
                               ("train", n_train, True)):
        if wanted and size < 1:
            raise DatasetError(
                f"split dev={dev:g}, test={test:g} of {n_samples} samples leaves the {part} "
                "part empty; choose fractions that give every part at least one sample"
            )
    return n_train, n_dev, n_test


def split_dataset(dataset: Dataset, dev: float, test: float, seed: int) -> Split:
    """Split into train, dev and test parts of sizes round(dev·n), round(test·n) and the rest."""
    dev, test, seed = check_split(dev, test, seed)
    _, n_dev, n_test = split_sizes(dataset.n_samples, dev, test)
    rng = np.random.default_rng(seed)
    rank = np.empty(dataset.n_samples, dtype=np.float64)
    for label in range(dataset.n_classes):
        members = np.flatnonzero(dataset.y == label)
        shuffled = rng.permutation(members)
        rank[shuffled] = (np.arange(len(members)) + 0.5) / len(members)
    tiebreak = rng.random(dataset.n_samples)
    order = np.lexsort((tiebreak, rank))
    dev_index = np.sort(order[:n_dev])
    test_index = np.sort(order[n_dev:n_dev + n_test])
    train_index = np.sort(order[n_dev + n_test:])
    X, y = dataset.X, dataset.y
    return Split(
        X_train=X[train_index], y_train=y[train_index],
        X_dev=X[dev_index], y_dev=y[dev_index],
        X_test=X[test_index], y_test=y[test_index],
        train_index=train_index, dev_index=dev_index, test_index=test_index,
    )
