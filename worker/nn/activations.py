"""Hidden-layer activations: forward in place, backward from the activation's output.

`ACTIVATIONS` implements the names of domain.training.ACTIVATIONS. Each
function pair works on arrays of any float dtype. `forward(z)` overwrites
z with g(z) and returns it; `backward(a, da)` overwrites da with da * g'(z),
using only the output a = g(z), so the layer keeps one array per batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

LEAKY_SLOPE = 0.01


def _relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0, out=z)


def _relu_backward(a: np.ndarray, da: np.ndarray) -> np.ndarray:
    # Multiplying by the mask is several times faster than copyto(..., where=).
    return np.multiply(da, a > 0, out=da)


def _leaky_relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, z * z.dtype.type(LEAKY_SLOPE), out=z)


def _leaky_relu_backward(a: np.ndarray, da: np.ndarray) -> np.ndarray:
    slope = np.where(a < 0, da.dtype.type(LEAKY_SLOPE), da.dtype.type(1))
    return np.multiply(da, slope, out=da)


def _tanh(z: np.ndarray) -> np.ndarray:
    return np.tanh(z, out=z)


def _tanh_backward(a: np.ndarray, da: np.ndarray) -> np.ndarray:
    # da * (1 - a^2)
    da -= da * a * a
    return da


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # 1 / (1 + e^-z), computed as (1 + tanh(z/2)) / 2 to stay finite for any z.
    z *= 0.5
    np.tanh(z, out=z)
    z += 1
    z *= 0.5
    return z


def _sigmoid_backward(a: np.ndarray, da: np.ndarray) -> np.ndarray:
    # da * a * (1 - a)
    da *= a - a * a
    return da


@dataclass(frozen=True)
class ActivationFunction:
    """One activation function g: its in-place forward and its backward from the output."""

    name: str
    forward: Callable[[np.ndarray], np.ndarray]
    backward: Callable[[np.ndarray, np.ndarray], np.ndarray]


ACTIVATIONS: dict[str, ActivationFunction] = {
    "relu": ActivationFunction("relu", _relu, _relu_backward),
    "leaky_relu": ActivationFunction("leaky_relu", _leaky_relu, _leaky_relu_backward),
    "tanh": ActivationFunction("tanh", _tanh, _tanh_backward),
    "sigmoid": ActivationFunction("sigmoid", _sigmoid, _sigmoid_backward),
}


def get(name: str) -> ActivationFunction:
    """The activation called name; ValueError naming the allowed ones otherwise."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"activation: must be one of {', '.join(ACTIVATIONS)}, got {name!r}"
        ) from None
