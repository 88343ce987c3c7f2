"""Scales: maps between a parameter's range and the unit interval, written once.

A sampler draws u in [0, 1] (uniformly, on a grid, from a Sobol' sequence) and
the scale turns it into a value; `to_unit` is the inverse. Both ends map
exactly: u = 0 gives low, u = 1 gives high.

- linear: `low + u (high - low)`
- log: `10^(log10 low + u (log10 high - log10 low))`: each decade gets the same share
- reverse_log: `1 - 10^(log10(1-low) + u (log10(1-high) - log10(1-low)))`: 1 - value is
  on a log scale, so values near 1 (β = 0.999 vs 0.9995) are sampled densely
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray


class Scale(Protocol):
    """A monotone increasing bijection between [low, high] and [0, 1]."""

    def from_unit(self, u: ArrayLike, low: float, high: float) -> NDArray[np.float64]: ...

    def to_unit(self, x: ArrayLike, low: float, high: float) -> NDArray[np.float64]: ...


@dataclass(frozen=True)
class Warped:
    """A scale as a linear map in warped coordinates: w = forward(x), x = inverse(w)."""

    forward: Callable[[ArrayLike], NDArray[np.float64]]
    inverse: Callable[[ArrayLike], NDArray[np.float64]]

    def from_unit(self, u: ArrayLike, low: float, high: float) -> NDArray[np.float64]:
        u = np.asarray(u, dtype=np.float64)
        forward, inverse = self._maps(low, high)
        a, b = forward(low), forward(high)
        x = inverse(a + u * (b - a))
        return np.clip(np.where(u <= 0, low, np.where(u >= 1, high, x)), low, high)

    def to_unit(self, x: ArrayLike, low: float, high: float) -> NDArray[np.float64]:
        forward, _ = self._maps(low, high)
        a, b = forward(low), forward(high)
        if b == a:  # low == high: one value, at u = 0
            return np.zeros(np.shape(x))
        u = (forward(np.asarray(x, dtype=np.float64)) - a) / (b - a)
        return np.clip(u, 0.0, 1.0) + 0.0  # + 0.0 turns -0.0 into 0.0

    def _maps(self, low: float, high: float) -> tuple[Callable[[ArrayLike], NDArray[np.float64]],
                                                       Callable[[ArrayLike], NDArray[np.float64]]]:
        """The warp, or the identity for a range whose ends the warp rounds to one value (a
        log range one float wide: [1e-12, 1.0000000000000002e-12]); at that width every
        scale is linear, and to_unit would otherwise divide by zero."""
        if self.forward(high) != self.forward(low):  # reverse_log's warp decreases
            return self.forward, self.inverse
        return _identity, _identity


def _identity(x: ArrayLike) -> NDArray[np.float64]:
    return np.asarray(x, dtype=np.float64)


def _log10(x: ArrayLike) -> NDArray[np.float64]:
    return np.log10(np.asarray(x, dtype=np.float64))


def _exp10(w: ArrayLike) -> NDArray[np.float64]:
    return np.power(10.0, w)


def _log_gap(x: ArrayLike) -> NDArray[np.float64]:
    return np.log10(1.0 - np.asarray(x, dtype=np.float64))


def _one_minus_exp10(w: ArrayLike) -> NDArray[np.float64]:
    return 1.0 - np.power(10.0, w)


SCALES: dict[str, Scale] = {
    "linear": Warped(_identity, _identity),
    "log": Warped(_log10, _exp10),
    "reverse_log": Warped(_log_gap, _one_minus_exp10),
}
