"""Every scale's round trip to the unit interval, over generated ranges (Hypothesis).

For each scale of domain.scales.SCALES and any range it allows (DESIGN.md,
"Scales"): to_unit(from_unit(u)) is u, from_unit(to_unit(x)) is x, both ends map
exactly, and from_unit is increasing and stays in the range. Derandomized, so a
run is reproducible; each test takes well under a second.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.params import range_errors
from domain.scales import SCALES

PROPERTIES = settings(derandomize=True, database=None, max_examples=300, deadline=None)

# The ranges people give: magnitudes from 1e-12 to 1e12 (a learning rate, a batch size, a
# weight decay), reverse_log's gap 1 - x down to 1e-12 (beta2 = 0.999999999999).
_MAGNITUDE = st.floats(min_value=1e-12, max_value=1e12)
_SIGNED = st.one_of(_MAGNITUDE, _MAGNITUDE.map(lambda x: -x), st.just(0.0))
_GAP = st.floats(min_value=1e-12, max_value=1.0)  # 1 - x, for reverse_log


def _ordered(values: st.SearchStrategy[float]) -> st.SearchStrategy[tuple[float, float]]:
    return st.tuples(values, values).filter(lambda pair: pair[0] != pair[1]).map(sorted).map(
        tuple)


RANGES = st.one_of(
    _ordered(_SIGNED).map(lambda r: ("linear", *r)),
    _ordered(_MAGNITUDE).map(lambda r: ("log", *r)),
    _ordered(_GAP).map(lambda gaps: ("reverse_log", 1.0 - gaps[1], 1.0 - gaps[0])).filter(
        lambda r: r[1] < r[2]),
)
"""(scale, low, high): every scale, on ranges its rules allow (domain.params.range_errors)."""

UNITS = st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=20)


def _slope(scale: str, x: np.ndarray) -> np.ndarray:
    """|d warp / dx| at x: how much an error in x moves the warped coordinate."""
    if scale == "linear":
        return np.ones_like(x)
    if scale == "log":
        return 1 / (x * math.log(10))
    return 1 / ((1 - x) * math.log(10))


def _unit_tolerance(scale: str, low: float, high: float, x: np.ndarray) -> np.ndarray:
    """How far to_unit(from_unit(u)) may be from u.

    x = from_unit(u) is a float, rounded to its spacing (reverse_log's to that of 1 - x
    too, which it computes), and the warp is rounded to a few steps of its values; each
    moves u by its slope over the warped span. Near 1, 1 - x keeps few digits (1 - 1e-12
    holds it to 1e-4); a range a few floats wide holds u to nothing.
    """
    warp = {"linear": lambda v: v, "log": math.log10, "reverse_log": lambda v: math.log10(1 - v)}
    a, b = warp[scale](low), warp[scale](high)
    span = abs(b - a)
    rounding = np.abs(np.spacing(x)) + (np.spacing(1 - x) if scale == "reverse_log" else 0)
    warping = 8 * np.finfo(np.float64).eps * (abs(a) + abs(b))  # the warp's own rounding
    if span == 0:  # ends one float apart, the warp rounds them to one value: u is anything
        return np.full_like(x, np.inf)
    return (4 * rounding * _slope(scale, x) + warping) / span + 1e-9


def _tolerance(scale: str, low: float, high: float, x: np.ndarray) -> np.ndarray:
    """How far from_unit(to_unit(x)) may be from x: a few float64 steps of the warped
    coordinate, carried back through the scale's inverse."""
    steps = 64 * np.finfo(np.float64).eps
    if scale == "linear":
        return steps * (abs(low) + abs(high)) + 0 * x
    if scale == "log":
        return steps * math.log(10) * (abs(math.log10(low)) + abs(math.log10(high)) + 1) * x
    gap = 1.0 - x  # reverse_log: relative precision of 1 - x, and 1 - x itself is rounded
    span = abs(math.log10(1.0 - low)) + abs(math.log10(1.0 - high)) + 1
    return steps * math.log(10) * span * gap + steps


def test_the_generated_ranges_are_the_ones_the_spec_allows():
    @PROPERTIES
    @given(RANGES)
    def check(scaled: tuple[str, float, float]) -> None:
        assert range_errors(scaled[1], scaled[2], scaled[0]) == [], scaled

    check()


@PROPERTIES
@given(RANGES, UNITS)
def test_to_unit_inverts_from_unit(scaled: tuple[str, float, float], units: list[float]):
    scale, low, high = scaled
    u = np.array([0.0, *units, 1.0])
    x = SCALES[scale].from_unit(u, low, high)
    assert x[0] == low and x[-1] == high  # the ends exactly
    assert np.all((x >= low) & (x <= high))
    order = np.argsort(u, kind="stable")
    assert np.all(np.diff(x[order]) >= 0)  # increasing
    back = SCALES[scale].to_unit(x, low, high)
    assert np.all(np.abs(back - u) <= _unit_tolerance(scale, low, high, x)), (back, u)


@PROPERTIES
@given(RANGES, UNITS)
def test_from_unit_inverts_to_unit_within_the_range(scaled: tuple[str, float, float],
                                                    units: list[float]):
    scale, low, high = scaled
    x = np.clip(low + np.array(units) * (high - low), low, high)  # values of the range
    u = SCALES[scale].to_unit(x, low, high)
    assert np.all((u >= 0) & (u <= 1))
    back = SCALES[scale].from_unit(u, low, high)
    assert np.all(np.abs(back - x) <= _tolerance(scale, low, high, x)), (back, x)
