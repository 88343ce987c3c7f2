"""Built-in dataset names and their options: what a spec may name, checked without loading.

The server checks a search spec's `dataset` with `check_builtin`, and the CLI does
the same offline; the worker's loaders (worker.datasets) build the data and check
the same way, from these definitions. `DatasetError` is every dataset's error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class DatasetError(ValueError):
    """A dataset that cannot be used: the message says what is wrong and where."""


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


@dataclass(frozen=True)
class Shape:
    """A dataset's size: rows, features per row, classes."""

    n_samples: int
    n_features: int
    n_classes: int


_FIXED_SHAPES = {"digits": Shape(1797, 64, 10), "breast_cancer": Shape(569, 30, 2)}


def builtin_shape(name: str, options: Mapping[str, Any] | None = None) -> Shape:
    """The shape of a built-in dataset with these options, known without loading it (the
    worker's loaders make exactly this; tests/domain/test_datasets.py checks it)."""
    checked = check_builtin(name, options)
    if name in _FIXED_SHAPES:
        return _FIXED_SHAPES[name]
    return Shape(int(checked["n_samples"]), 2, int(checked.get("n_classes", 2)))
