"""The space: unit-cube maps per parameter type, int rounding, and the grid."""

import itertools
import math
from collections import Counter

import numpy as np
import pytest

from domain.space import Space
from domain.spec import parse_spec


def space_of(parameters: dict) -> Space:
    spec = parse_spec({"name": "s", "dataset": {"id": 1}, "parameters": parameters})
    return Space.from_spec(spec.parameters)


MIXED = {
    "learning_rate": {"type": "float", "low": 1e-4, "high": 1.0, "scale": "log"},
    "beta1": {"type": "float", "low": 0.9, "high": 0.999, "scale": "reverse_log"},
    "hidden_units": {"type": "int", "low": 50, "high": 100},
    "num_layers": {"type": "int", "low": 2, "high": 4},
    "batch_size": {"type": "choice", "values": [64, 128, 256, 512]},
    "batch_norm": {"type": "choice", "values": [True, False]},
}


def test_dimensions_are_ordered_by_name_whatever_the_spec_order():
    reordered = dict(reversed(list(MIXED.items())))
    assert space_of(MIXED) == space_of(reordered)
    assert space_of(MIXED).names == sorted(MIXED)


def test_values_are_plain_json_types_within_their_ranges():
    space = space_of(MIXED)
    rng = np.random.default_rng(3)
    for _ in range(200):
        params = space.from_unit(rng.random(len(space.dims)))
        assert type(params["learning_rate"]) is float and 1e-4 <= params["learning_rate"] <= 1
        assert type(params["beta1"]) is float and 0.9 <= params["beta1"] <= 0.999
        assert type(params["hidden_units"]) is int and 50 <= params["hidden_units"] <= 100
        assert type(params["batch_size"]) is int and type(params["batch_norm"]) is bool


def test_round_trip_through_the_unit_cube():
    space = space_of(MIXED)
    rng = np.random.default_rng(4)
    for _ in range(200):
        params = space.from_unit(rng.random(len(space.dims)))
        again = space.from_unit(space.to_unit(params))
        assert again.keys() == params.keys()
        for name, value in params.items():
            assert again[name] == pytest.approx(value, rel=1e-12)


def test_ints_on_a_linear_scale_are_equally_likely_ends_included():
    space = space_of({"num_layers": {"type": "int", "low": 2, "high": 4}})
    u = np.random.default_rng(5).random(3000)
    counts = Counter(space.from_unit([x])["num_layers"] for x in u)
    assert set(counts) == {2, 3, 4}
    assert all(abs(n / 3000 - 1 / 3) < 0.03 for n in counts.values()), counts


def test_ints_on_a_log_scale_round_after_the_transform():
    space = space_of({"hidden_units": {"type": "int", "low": 1, "high": 1000, "scale": "log"}})
    u = np.random.default_rng(6).random(4000)
    units = np.array([space.from_unit([x])["hidden_units"] for x in u])
    assert units.min() == 1 and units.max() <= 1000
    # the bin of k is [k - 0.5, k + 0.5] on a log scale over [0.5, 1000.5]
    share_of_1 = np.log10(1.5 / 0.5) / np.log10(1000.5 / 0.5)
    assert abs(np.mean(units == 1) - share_of_1) < 0.02
    # decades hold about equal shares, unlike a linear draw (90% above 100)
    assert 0.25 < np.mean(units >= 100) < 0.4
    assert space.from_unit([0.0])["hidden_units"] == 1
    assert space.from_unit([1.0])["hidden_units"] == 1000


def test_choices_are_equally_likely():
    space = space_of({"batch_size": {"type": "choice", "values": [64, 128, 256, 512]}})
    u = np.random.default_rng(7).random(4000)
    counts = Counter(space.from_unit([x])["batch_size"] for x in u)
    assert all(abs(n / 4000 - 0.25) < 0.03 for n in counts.values()), counts
    assert space.from_unit([1.0])["batch_size"] == 512


def test_a_point_of_the_wrong_shape_or_outside_the_cube_is_refused():
    with pytest.raises(ValueError, match="expected a point of 6 coordinates"):
        space_of(MIXED).from_unit([0.5, 0.5])
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        space_of(MIXED).from_unit([0.5, 0.5, 0.5, -0.1, 0.5, math.nan])


def test_grid_axes_enumerate_ints_and_choices_and_space_floats_on_their_scale():
    space = space_of(MIXED)
    axes = dict(zip(space.names, space.grid_axes(5), strict=True))
    np.testing.assert_allclose(axes["learning_rate"], [1e-4, 1e-3, 1e-2, 1e-1, 1.0])
    np.testing.assert_allclose(axes["beta1"], [0.9, 1 - 10**-1.5, 0.99, 1 - 10**-2.5, 0.999])
    assert axes["num_layers"] == [2, 3, 4]
    assert axes["hidden_units"] == [50, 63, 75, 88, 100]
    assert axes["batch_size"] == [64, 128, 256, 512]
    assert axes["batch_norm"] == [True, False]
    assert space.grid_size(5) == 5 * 5 * 5 * 3 * 4 * 2


def test_grid_points_follow_itertools_product_order():
    space = space_of({
        "num_layers": {"type": "int", "low": 2, "high": 4},
        "activation": {"type": "choice", "values": ["relu", "tanh"]},
        "l2": {"type": "float", "low": 0.0, "high": 0.1},
    })
    expected = [dict(zip(space.names, combo, strict=True))
                for combo in itertools.product(*space.grid_axes(3))]
    assert [space.grid_point(3, i) for i in range(space.grid_size(3))] == expected
    assert len({tuple(p.values()) for p in expected}) == 2 * 3 * 3
    with pytest.raises(IndexError, match="the grid has 18 points"):
        space.grid_point(3, 18)


def test_a_huge_grid_is_counted_not_built():
    parameters = {key: {"type": "float", "low": 0.1, "high": 0.5}
                  for key in ("l2", "keep_prob", "beta1", "beta2", "bn_momentum")}
    space = space_of(parameters)
    assert space.grid_size(1000) == 1000**5
    assert space.grid_point(1000, 1000**5 - 1) == {key: 0.5 for key in sorted(parameters)}
