"""Seeded 2-D toy problems: two moons, two circles, and interleaved spirals.

Each generator returns (X, y) with X float64 (n×2) and y int64; the same
arguments always give the same arrays. Class sizes differ by at most one.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Points = tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]  # (X, y)


def _class_sizes(n_samples: int, n_classes: int) -> list[int]:
    base, extra = divmod(n_samples, n_classes)
    return [base + (1 if k < extra else 0) for k in range(n_classes)]


def _shuffled(X: npt.NDArray[np.float64], y: npt.NDArray[np.int64],
              rng: np.random.Generator) -> Points:
    order = rng.permutation(len(y))
    return X[order], y[order]


def moons(n_samples: int, noise: float, seed: int) -> Points:
    """Two interleaving half circles with Gaussian noise of standard deviation `noise`."""
    rng = np.random.default_rng(seed)
    outer, inner = _class_sizes(n_samples, 2)
    t_outer = np.linspace(0, np.pi, outer)
    t_inner = np.linspace(0, np.pi, inner)
    X = np.concatenate([
        np.column_stack([np.cos(t_outer), np.sin(t_outer)]),
        np.column_stack([1 - np.cos(t_inner), 0.5 - np.sin(t_inner)]),
    ])
    y = np.repeat(np.arange(2), [outer, inner])
    X = X + rng.normal(scale=noise, size=X.shape)
    return _shuffled(X, y, rng)


def circles(n_samples: int, noise: float, factor: float, seed: int) -> Points:
    """A circle of radius `factor` inside the unit circle, with Gaussian noise."""
    rng = np.random.default_rng(seed)
    outer, inner = _class_sizes(n_samples, 2)
    t_outer = np.linspace(0, 2 * np.pi, outer, endpoint=False)
    t_inner = np.linspace(0, 2 * np.pi, inner, endpoint=False)
    X = np.concatenate([
        np.column_stack([np.cos(t_outer), np.sin(t_outer)]),
        factor * np.column_stack([np.cos(t_inner), np.sin(t_inner)]),
    ])
    y = np.repeat(np.arange(2), [outer, inner])
    X = X + rng.normal(scale=noise, size=X.shape)
    return _shuffled(X, y, rng)


def spirals(n_samples: int, noise: float, n_classes: int, turns: float, seed: int
            ) -> Points:
    """`n_classes` spiral arms from the origin, each winding `turns` times, rotated evenly.

    Noise is Gaussian on the angle (in radians), so it scales with the arm's
    separation rather than with the plane.
    """
    rng = np.random.default_rng(seed)
    sizes = _class_sizes(n_samples, n_classes)
    parts = []
    for k, size in enumerate(sizes):
        radius = np.linspace(0.05, 1.0, size)
        angle = (2 * np.pi * turns * radius + 2 * np.pi * k / n_classes
                 + rng.normal(scale=noise, size=size))
        parts.append(np.column_stack([radius * np.cos(angle), radius * np.sin(angle)]))
    X = np.concatenate(parts)
    y = np.repeat(np.arange(n_classes), sizes)
    return _shuffled(X, y, rng)
