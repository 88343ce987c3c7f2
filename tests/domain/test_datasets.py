"""Built-in dataset names and options: checked without loading, defaults filled in."""

import pytest

from domain.datasets import BUILTIN_NAMES, DatasetError, check_builtin


def test_check_builtin_fills_defaults_and_normalizes_types():
    assert check_builtin("digits", None) == {}
    assert check_builtin("moons", {"n_samples": 200.0}) == {
        "n_samples": 200, "noise": 0.2, "seed": 0,
    }
    assert set(check_builtin("spirals", {})) == {"n_samples", "noise", "n_classes", "turns", "seed"}
    assert set(BUILTIN_NAMES) == {"digits", "breast_cancer", "moons", "circles", "spirals"}


@pytest.mark.parametrize(
    ("name", "options", "fragment"),
    [
        ("mnist", {}, "unknown built-in dataset 'mnist'; built-ins: digits, breast_cancer"),
        ("digits", {"noise": 0.1}, "digits: unknown option 'noise'; options: none"),
        ("moons", {"size": 5}, "moons: unknown option 'size'; options: n_samples, noise, seed"),
        ("moons", {"n_samples": 5}, "option n_samples must be an integer with 10 <= value"),
        ("moons", {"n_samples": 100.5}, "option n_samples must be an integer"),
        ("moons", {"n_samples": True}, "option n_samples"),
        ("moons", {"noise": -0.1}, "option noise must be a number with 0 <= value <= 10"),
        ("moons", {"noise": "high"}, "got 'high'"),
        ("moons", {"noise": float("nan")}, "option noise"),
        ("circles", {"factor": 1.0}, "option factor must be a number with 0 < value <= 0.99"),
        ("spirals", {"n_classes": 1}, "option n_classes must be an integer with 2 <= value"),
        ("moons", [1, 2], "moons: options must be a mapping"),
    ],
)
def test_check_builtin_names_the_option_and_the_rule(name, options, fragment):
    with pytest.raises(DatasetError) as raised:
        check_builtin(name, options)
    assert fragment in str(raised.value)
