"""Scales: the shares METHODS.md §1 asks for, exact ends, and to_unit inverting from_unit."""

import numpy as np
import pytest

from domain.scales import SCALES

RANGES = [("linear", 2.0, 7.0), ("log", 1e-4, 1.0), ("reverse_log", 0.9, 0.999),
          ("reverse_log", 0.0, 0.99)]


def test_log_learning_rates_give_each_decade_a_quarter():
    u = np.random.default_rng(0).random(2000)
    alpha = SCALES["log"].from_unit(u, 1e-4, 1.0)
    shares = np.histogram(np.log10(alpha), bins=[-4, -3, -2, -1, 0])[0] / len(alpha)
    assert np.all(np.abs(shares - 0.25) <= 0.03), shares


def test_reverse_log_betas_put_half_below_0_99():
    u = np.random.default_rng(1).random(2000)
    beta = SCALES["reverse_log"].from_unit(u, 0.9, 0.999)
    assert np.all((beta >= 0.9) & (beta <= 0.999))
    assert abs(np.mean(beta < 0.99) - 0.5) <= 0.03


def test_a_uniform_draw_would_fail_the_decade_test():
    """The decade test can fail: the linear scale puts ~90% of draws in [0.1, 1]."""
    u = np.random.default_rng(0).random(2000)
    alpha = SCALES["linear"].from_unit(u, 1e-4, 1.0)
    assert np.mean(alpha >= 0.1) > 0.85


@pytest.mark.parametrize(("scale", "low", "high"), RANGES)
def test_the_ends_map_exactly_and_to_unit_inverts_from_unit(scale, low, high):
    u = np.linspace(0.0, 1.0, 101)
    x = SCALES[scale].from_unit(u, low, high)
    assert x[0] == low and x[-1] == high
    assert np.all(np.diff(x) > 0)
    np.testing.assert_allclose(SCALES[scale].to_unit(x, low, high), u, atol=1e-9)


def test_reverse_log_is_1_minus_a_log_scale():
    x = SCALES["reverse_log"].from_unit([0.0, 0.5, 1.0], 0.9, 0.999)
    np.testing.assert_allclose(x, [0.9, 0.99, 0.999])


@pytest.mark.parametrize(("scale", "low"), [("log", 1e-12), ("log", 999999999999.0),
                                            ("linear", 0.5), ("reverse_log", 0.25)])
def test_a_range_one_float_wide_maps_both_ways_without_nan(scale, low):
    """Found by tests/domain/test_scales_properties.py: log10 rounds the ends of
    [1e-12, 1.0000000000000002e-12] to one value, and to_unit divided by zero."""
    high = float(np.nextafter(low, np.inf))
    x = SCALES[scale].from_unit([0.0, 0.5, 1.0], low, high)
    assert x[0] == low and x[-1] == high and np.all((x >= low) & (x <= high))
    u = SCALES[scale].to_unit([low, high], low, high)
    assert np.all(np.isfinite(u)) and u[0] == 0.0 and u[1] in (0.0, 1.0)
