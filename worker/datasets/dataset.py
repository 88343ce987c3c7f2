"""The in-memory dataset every loader returns, and the checks every loader shares.

A `Dataset` holds float32 features and int64 labels 0..K-1; `classes` keeps the
original label values so that label k can be named back. Loaders build it with
`make_dataset`, which rejects what a classifier cannot train on and says where.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from domain.datasets import DatasetError


@dataclass(frozen=True, eq=False)
class Dataset:
    """Features X (n×d float32), labels y (n int64 in 0..K-1) and their names."""

    name: str
    X: np.ndarray
    y: np.ndarray
    classes: tuple[Any, ...]
    feature_names: tuple[str, ...]

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def describe(self) -> str:
        """One line: name, size, features and classes."""
        return (
            f"{self.name}: {self.n_samples} samples, {self.n_features} features, "
            f"{self.n_classes} classes"
        )


def encode_labels(labels: np.ndarray, where: str) -> tuple[np.ndarray, tuple[Any, ...]]:
    """Map class labels (integers or strings) to 0..K-1 in sorted order.

    Floats are accepted when every value is a whole number. Returns the codes
    and the original values, as Python ints or strs, in code order.
    """
    if labels.dtype.kind == "b":
        labels = labels.astype(np.int64)
    elif labels.dtype.kind == "S":
        labels = np.char.decode(labels, "utf-8", errors="replace")
    elif labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)):
            row = int(np.flatnonzero(~np.isfinite(labels))[0])
            raise DatasetError(f"{where}: label at row {row} is {labels[row].item()}; labels "
                               "must be integers or strings")
        fractional = labels != np.round(labels)
        if fractional.any():
            row = int(np.flatnonzero(fractional)[0])
            raise DatasetError(f"{where}: label at row {row} is {labels[row].item()!r}, not a "
                               "whole number; labels must be integers or strings (class names)")
        labels = labels.astype(np.int64)
    elif labels.dtype.kind not in "iuU":
        raise DatasetError(f"{where}: labels have dtype {labels.dtype}; expected integers or "
                           "strings")
    values, codes = np.unique(labels, return_inverse=True)
    classes = tuple(v.item() for v in values)
    return codes.astype(np.int64).reshape(-1), classes


def first_non_finite(X: np.ndarray) -> tuple[int, int] | None:
    """(row, column) of the first NaN or infinite entry of X, or None."""
    bad = ~np.isfinite(X)
    if not bad.any():
        return None
    row, column = np.argwhere(bad)[0]
    return int(row), int(column)


def make_dataset(
    name: str,
    X: np.ndarray,
    labels: np.ndarray,
    feature_names: Sequence[str] | None = None,
    where: str | None = None,
) -> Dataset:
    """Check shapes, finiteness and classes, encode the labels, and build a Dataset.

    `where` prefixes every error message (default: the dataset's name).
    """
    where = where or name
    X = np.asarray(X)
    labels = np.asarray(labels)
    if X.ndim != 2:
        raise DatasetError(f"{where}: X must be 2-D (samples × features), got shape {X.shape}")
    if labels.ndim != 1:
        raise DatasetError(f"{where}: y must be 1-D (one label per sample), got shape "
                           f"{labels.shape}")
    if X.shape[0] != labels.shape[0]:
        raise DatasetError(f"{where}: X has {X.shape[0]} rows but y has {labels.shape[0]} labels; "
                           "they must match")
    if X.shape[0] == 0:
        raise DatasetError(f"{where}: no samples")
    if X.shape[1] == 0:
        raise DatasetError(f"{where}: X has no feature columns")
    if X.dtype.kind not in "biuf":
        raise DatasetError(f"{where}: X must be numeric, got dtype {X.dtype}")
    X = np.ascontiguousarray(X, dtype=np.float32)
    names = tuple(feature_names) if feature_names is not None else tuple(
        f"x{i}" for i in range(X.shape[1])
    )
    if len(names) != X.shape[1]:
        raise DatasetError(f"{where}: {len(names)} feature names for {X.shape[1]} columns")
    bad = first_non_finite(X)
    if bad is not None:
        row, column = bad
        raise DatasetError(f"{where}: X has {X[row, column]} at row {row}, column {column} "
                           f"({names[column]!r}); features must be finite numbers")
    y, classes = encode_labels(labels, where)
    if len(classes) < 2:
        raise DatasetError(f"{where}: y has a single class ({classes[0]!r}); a classifier needs "
                           "at least two")
    return Dataset(name=name, X=X, y=y, classes=classes, feature_names=names)
