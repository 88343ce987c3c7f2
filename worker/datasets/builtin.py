"""Built-in datasets by name: scikit-learn's bundled digits and breast_cancer
(no download), and the seeded synthetic moons, circles and spirals.

`check_builtin` validates a name and its options without loading anything,
so the server can check a search spec's `dataset` cheaply; `load_builtin`
checks the same way, then builds the Dataset.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from worker.datasets import synthetic
from worker.datasets.dataset import Dataset, DatasetError, make_dataset


@dataclass(frozen=True)
class Option:
    """One option of a built-in dataset: its type ("int" or "float"), default and bounds."""

    name: str
    kind: str
    default: int | float
    low: float
    high: float
    low_open: bool = False

    def rule(self) -> str:
        what = "an integer" if self.kind == "int" else "a number"
        return f"{what} with {self.low:g} {'<' if self.low_open else '<='} value <= {self.high:g}"

    def check(self, dataset: str, value: Any) -> int | float:
        """The value in canonical type, or DatasetError naming the option and its rule."""
        wrong = DatasetError(f"{dataset}: option {self.name} must be {self.rule()}, "
                             f"got {value!r}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise wrong
        if not math.isfinite(value):
            raise wrong
        number: int | float
        if self.kind == "int":
            if value != int(value):
                raise wrong
            number = int(value)
        else:
            number = float(value)
        too_low = number <= self.low if self.low_open else number < self.low
        if too_low or number > self.high:
            raise wrong
        return number


_N_SAMPLES = Option("n_samples", "int", 1000, 10, 1_000_000)
_SEED = Option("seed", "int", 0, 0, 2**32 - 1)

OPTIONS: dict[str, tuple[Option, ...]] = {
    "digits": (),
    "breast_cancer": (),
    "moons": (_N_SAMPLES, Option("noise", "float", 0.2, 0, 10), _SEED),
    "circles": (
        _N_SAMPLES,
        Option("noise", "float", 0.1, 0, 10),
        Option("factor", "float", 0.5, 0, 0.99, low_open=True),
        _SEED,
    ),
    "spirals": (
        _N_SAMPLES,
        Option("noise", "float", 0.2, 0, 10),
        Option("n_classes", "int", 3, 2, 10),
        Option("turns", "float", 1.0, 0, 10, low_open=True),
        _SEED,
    ),
}

BUILTIN_NAMES: tuple[str, ...] = tuple(OPTIONS)


def check_builtin(name: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Validate a built-in dataset name and its options; return all options with defaults.

    Raises DatasetError naming the unknown dataset, the unknown option, or the
    option and the rule it breaks.
    """
    if name not in OPTIONS:
        raise DatasetError(f"unknown built-in dataset {name!r}; built-ins: "
                           + ", ".join(BUILTIN_NAMES))
    options = {} if options is None else options
    if not isinstance(options, Mapping):
        raise DatasetError(f"{name}: options must be a mapping of option names to values, "
                           f"got {options!r}")
    known = {option.name: option for option in OPTIONS[name]}
    for key in options:
        if key not in known:
            allowed = ", ".join(known) if known else "none (it takes no options)"
            raise DatasetError(f"{name}: unknown option {key!r}; options: {allowed}")
    return {
        key: option.check(name, options[key]) if key in options else option.default
        for key, option in known.items()
    }


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
