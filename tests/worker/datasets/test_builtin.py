"""Built-in datasets: the real bundled data, seeded synthetic data, a loader for every name."""

import numpy as np
import pytest

from domain.datasets import BUILTIN_NAMES, OPTIONS, DatasetError, Shape, builtin_shape
from worker.datasets import load_builtin


def test_digits_is_the_real_8x8_digits():
    digits = load_builtin("digits")
    assert digits.X.shape == (1797, 64) and digits.X.dtype == np.float32
    assert digits.y.shape == (1797,) and digits.y.dtype == np.int64
    assert digits.n_classes == 10 and digits.classes == tuple(range(10))
    assert sorted(set(digits.y.tolist())) == list(range(10))
    assert digits.X.min() == 0 and digits.X.max() == 16
    assert len(digits.feature_names) == 64


def test_breast_cancer_keeps_its_class_names():
    data = load_builtin("breast_cancer")
    assert data.X.shape == (569, 30)
    assert data.classes == ("benign", "malignant")
    assert np.bincount(data.y).tolist() == [357, 212]
    assert "mean radius" in data.feature_names


@pytest.mark.parametrize("name", ["moons", "circles", "spirals"])
def test_synthetic_data_is_determined_by_its_seed(name):
    first = load_builtin(name, {"seed": 3, "n_samples": 300})
    again = load_builtin(name, {"seed": 3, "n_samples": 300})
    other = load_builtin(name, {"seed": 4, "n_samples": 300})
    assert first.X.shape == (300, 2)
    np.testing.assert_array_equal(first.X, again.X)
    np.testing.assert_array_equal(first.y, again.y)
    assert not np.array_equal(first.X, other.X)


@pytest.mark.parametrize("name", ["moons", "circles", "spirals"])
def test_synthetic_classes_are_balanced(name):
    data = load_builtin(name, {"n_samples": 301})
    counts = np.bincount(data.y)
    assert counts.sum() == 301 and counts.max() - counts.min() <= 1


def test_noise_option_changes_the_spread():
    clean = load_builtin("moons", {"noise": 0.0, "seed": 1})
    noisy = load_builtin("moons", {"noise": 0.5, "seed": 1})
    # Noise-free moons lie on unit half circles centred at (0, 0) and (1, 0.5).
    centres = np.where(clean.y[:, None] == 0, [0.0, 0.0], [1.0, 0.5])
    np.testing.assert_allclose(np.linalg.norm(clean.X - centres, axis=1), 1.0, atol=1e-6)
    noisy_centres = np.where(noisy.y[:, None] == 0, [0.0, 0.0], [1.0, 0.5])
    assert np.abs(np.linalg.norm(noisy.X - noisy_centres, axis=1) - 1).mean() > 0.1


def test_spirals_takes_a_number_of_classes():
    data = load_builtin("spirals", {"n_classes": 5, "n_samples": 500})
    assert data.n_classes == 5 and np.bincount(data.y).tolist() == [100] * 5


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_every_builtin_name_of_the_domain_has_a_loader(name):
    options = {"n_samples": 100} if any(o.name == "n_samples" for o in OPTIONS[name]) else {}
    assert load_builtin(name, options).n_samples > 0


@pytest.mark.parametrize(
    ("name", "options"),
    [("mnist", {}), ("moons", {"size": 5}), ("circles", {"factor": 1.0}), ("moons", [1, 2])],
)
def test_loading_checks_the_name_and_options_as_the_domain_does(name, options):
    with pytest.raises(DatasetError):
        load_builtin(name, options)


SHAPED = [("digits", {}), ("breast_cancer", {}), ("moons", {"n_samples": 50}), ("circles", {}),
          ("spirals", {"n_samples": 60, "n_classes": 5})]


@pytest.mark.parametrize(("name", "options"), SHAPED)
def test_the_shape_known_offline_is_the_loaded_one(name, options):
    """domain.cost estimates a trial from builtin_shape, without loading the data."""
    data = load_builtin(name, options)
    assert builtin_shape(name, options) == Shape(data.n_samples, data.n_features,
                                                 data.n_classes)


def test_every_builtin_has_its_shape_checked():
    assert {name for name, _ in SHAPED} == set(BUILTIN_NAMES)
