"""The search space: parameters as dimensions of the unit cube.

Samplers work in unit space ([0, 1] per dimension) and `Space` maps points to
parameter values and back. Dimensions are ordered by parameter name, so a
spec's key order (which a JSON database column may not keep) never changes a
sequence. Values come out as plain Python int/float/str/bool, JSON-ready.

- float: the value on its scale.
- int: the scale runs over [low - 0.5, high + 0.5] and the value is rounded, so
  each integer gets the share of its own unit-wide bin on that scale (on a
  linear scale every integer, the ends included, is equally likely).
- choice: the unit interval cut into equal bins, one per value.

Grid (`grid_axes`): every choice value; every integer when the range holds at
most `points` of them, else `points` integers spaced on the scale (ends
included, duplicates after rounding dropped); floats at `points` points
spaced on their scale, ends included. Points are numbered like
`itertools.product` over the axes: the last dimension varies fastest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from domain.params import ChoiceParam, FloatParam, IntParam
from domain.scales import SCALES

Param = FloatParam | IntParam | ChoiceParam


@dataclass(frozen=True)
class Dimension:
    """One parameter of the space and its map to and from [0, 1]."""

    name: str
    param: Param

    def from_unit(self, u: float) -> Any:
        """The parameter value at unit coordinate u."""
        param = self.param
        if isinstance(param, ChoiceParam):
            return param.values[min(int(u * len(param.values)), len(param.values) - 1)]
        if isinstance(param, IntParam):
            x = SCALES[param.scale].from_unit(u, param.low - 0.5, param.high + 0.5)
            return int(np.clip(math.floor(float(x) + 0.5), param.low, param.high))
        return float(SCALES[param.scale].from_unit(u, param.low, param.high))

    def to_unit(self, value: Any) -> float:
        """The unit coordinate of a value: the centre of its bin for ints and choices."""
        return float(self.units([value])[0])

    def units(self, values: Sequence[Any]) -> NDArray[np.float64]:
        """The unit coordinates of many values at once (one NumPy call per scale)."""
        param = self.param
        if isinstance(param, ChoiceParam):
            count = len(param.values)
            return np.array([(self._choice_index(v) + 0.5) / count for v in values])
        if isinstance(param, IntParam):
            return SCALES[param.scale].to_unit(values, param.low - 0.5, param.high + 0.5)
        return SCALES[param.scale].to_unit(values, param.low, param.high)

    def axis(self, points: int) -> list[Any]:
        """The grid values of this dimension (see the module docstring)."""
        param = self.param
        if isinstance(param, ChoiceParam):
            return list(param.values)
        if isinstance(param, IntParam) and param.high - param.low + 1 <= points:
            return list(range(param.low, param.high + 1))
        spaced = SCALES[param.scale].from_unit(np.linspace(0.0, 1.0, points), param.low,
                                               param.high)
        if isinstance(param, FloatParam):
            return [float(x) for x in spaced]
        return list(dict.fromkeys(int(math.floor(x + 0.5)) for x in spaced))

    def _choice_index(self, value: Any) -> int:
        try:
            return self._choice_indexes[_choice_key(value)]
        except (KeyError, TypeError):
            raise ValueError(f"{self.name}: {value!r} is not one of its choice values") from None

    @cached_property
    def _choice_indexes(self) -> dict[Any, int]:
        assert isinstance(self.param, ChoiceParam)
        return {_choice_key(value): index for index, value in enumerate(self.param.values)}


def _choice_key(value: Any) -> Any:
    """A hashable key under which true and 1 differ but 64 and 64.0 do not."""
    return (isinstance(value, bool), tuple(value) if isinstance(value, list) else value)


@dataclass(frozen=True)
class Space:
    """The dimensions of a search, ordered by parameter name."""

    dims: tuple[Dimension, ...]

    @classmethod
    def from_spec(cls, parameters: Mapping[str, Param]) -> Space:
        """The space of a validated spec's `parameters`."""
        return cls(tuple(Dimension(name, parameters[name]) for name in sorted(parameters)))

    @property
    def names(self) -> list[str]:
        return [dim.name for dim in self.dims]

    def to_unit(self, params: Mapping[str, Any]) -> NDArray[np.float64]:
        """The unit-cube point of a params dict (one coordinate per dimension)."""
        return np.array([dim.to_unit(params[dim.name]) for dim in self.dims], dtype=np.float64)

    def to_unit_many(self, rows: Sequence[Mapping[str, Any]]) -> NDArray[np.float64]:
        """The unit-cube points of many params dicts, one row each (shape n × dims)."""
        columns = [dim.units([row[dim.name] for row in rows]) for dim in self.dims]
        return np.stack(columns, axis=1) if rows else np.empty((0, len(self.dims)))

    def from_unit(self, u: ArrayLike) -> dict[str, Any]:
        """The params dict of a unit-cube point."""
        point = np.asarray(u, dtype=np.float64)
        if point.shape != (len(self.dims),):
            raise ValueError(f"expected a point of {len(self.dims)} coordinates, got shape "
                             f"{point.shape}")
        if not np.all((point >= 0.0) & (point <= 1.0)):
            raise ValueError(f"unit coordinates must lie in [0, 1], got {point.tolist()}")
        return {dim.name: dim.from_unit(float(x)) for dim, x in zip(self.dims, point, strict=True)}

    def grid_axes(self, points: int) -> list[list[Any]]:
        """The values of each dimension on a grid of `points` points per float."""
        return [dim.axis(points) for dim in self.dims]

    def grid_size(self, points: int) -> int:
        """How many points the grid has (may be astronomically large: it is not built)."""
        return math.prod(len(axis) for axis in self.grid_axes(points))

    def grid_point(self, points: int, index: int) -> dict[str, Any]:
        """Grid point number `index` (0-based; itertools.product order, last dim fastest)."""
        axes = self.grid_axes(points)
        size = math.prod(len(axis) for axis in axes)
        if not 0 <= index < size:
            raise IndexError(f"grid point {index} out of range: the grid has {size} points")
        values = {}
        for dim, axis in zip(reversed(self.dims), reversed(axes), strict=True):
            index, digit = divmod(index, len(axis))
            values[dim.name] = axis[digit]
        return {dim.name: values[dim.name] for dim in self.dims}
