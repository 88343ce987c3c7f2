"""Built-in datasets by name: scikit-learn's bundled digits and breast_cancer
(no download), and the seeded synthetic moons, circles and spirals.

The names and their options are the domain's (`domain.datasets`); `load_builtin`
checks them with `check_builtin`, then builds the Dataset.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from domain.datasets import check_builtin
from worker.datasets import synthetic
from worker.datasets.dataset import Dataset, make_dataset


def _digits() -> Dataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return make_dataset("digits", bunch.data, bunch.target, bunch.feature_names)


def _breast_cancer() -> Dataset:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    # Label k is bunch.target_names[k]: keep the names as the classes.
    labels = bunch.target_names[bunch.target]
    return make_dataset("breast_cancer", bunch.data, labels, list(bunch.feature_names))


_LOADERS: dict[str, Callable[..., Dataset]] = {
    "digits": _digits,
    "breast_cancer": _breast_cancer,
}
_GENERATORS: dict[str, Callable[..., synthetic.Points]] = {
    "moons": synthetic.moons,
    "circles": synthetic.circles,
    "spirals": synthetic.spirals,
}


def load_builtin(name: str, options: Mapping[str, Any] | None = None) -> Dataset:
    """Load a built-in dataset by name, with its options checked by `check_builtin`."""
    checked = check_builtin(name, options)
    if name in _LOADERS:
        return _LOADERS[name]()
    X, y = _GENERATORS[name](**checked)
    return make_dataset(name, X, y)
