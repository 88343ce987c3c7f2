"""Weight initialization against vanishing and exploding gradients (METHODS.md section 2).

he:     W ~ N(0, 2 / n_in)       for relu-like activations
xavier: W ~ N(0, 1 / n_in)       for tanh and sigmoid
auto:   he for relu and leaky_relu, xavier for tanh and sigmoid
Biases start at zero (see Dense).
"""

from __future__ import annotations

import math

import numpy as np

from domain.training import INITS
from worker.nn.arrays import FloatArray, FloatDtype


def resolve(init: str, activation: str) -> str:
    """The concrete scheme: init itself, or for auto the one that suits activation."""
    if init not in INITS:
        raise ValueError(f"init: must be one of {', '.join(INITS)}, got {init!r}")
    if init != "auto":
        return init
    return "he" if activation in ("relu", "leaky_relu") else "xavier"


def weights(
    init: str, n_in: int, n_out: int, rng: np.random.Generator, dtype: FloatDtype
) -> FloatArray:
    """An (n_in, n_out) weight matrix drawn by the named scheme (he or xavier)."""
    variance = {"he": 2.0 / n_in, "xavier": 1.0 / n_in}[init]
    return (rng.standard_normal((n_in, n_out)) * math.sqrt(variance)).astype(dtype)
