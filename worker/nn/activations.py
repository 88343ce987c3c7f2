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

from worker.nn.arrays import FloatArray

LEAKY_SLOPE = 0.01


def _relu(z: FloatArray) -> FloatArray:
    return np.maximum(z, 0, out=z)


def _relu_backward(a: FloatArray, da: FloatArray) -> FloatArray:
    # Multiplying by the mask is several times faster than copyto(..., where=).
    return np.multiply(da, a > 0, out=da)


def _leaky_relu(z: FloatArray) -> FloatArray:
    return np.maximum(z, z * z.dtype.type(LEAKY_SLOPE), out=z)


def _leaky_relu_backward(a: FloatArray, da: FloatArray) -> FloatArray:
    slope = np.where(a < 0, da.dtype.type(LEAKY_SLOPE), da.dtype.type(1))
    return np.multiply(da, slope, out=da)


def _tanh(z: FloatArray) -> FloatArray:
    return np.tanh(z, out=z)


def _tanh_backward(a: FloatArray, da: FloatArray) -> FloatArray:
    # da * (1 - a^2)
    da -= da * a * a
    return da


def _sigmoid(z: FloatArray) -> FloatArray:
    # 1 / (1 + e^-z), computed as (1 + tanh(z/2)) / 2 to stay finite for any z.
    z *= 0.5
    np.tanh(z, out=z)
    z += 1
    z *= 0.5
    return z


def _sigmoid_backward(a: FloatArray, da: FloatArray) -> FloatArray:
    # da * a * (1 - a)
    da *= a - a * a
    return da


@dataclass(frozen=True)
class ActivationFunction:
    """One activation function g: its in-place forward and its backward from the output."""

    name: str
    forward: Callable[[FloatArray], FloatArray]
    backward: Callable[[FloatArray, FloatArray], FloatArray]


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
