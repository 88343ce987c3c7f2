"""The layers of a network: Dense, BatchNorm, ActivationLayer and Dropout.

Examples are rows: a batch is an (m, n) array. Every layer has `params` and
`grads` dicts (empty for layers without parameters), `forward(x, training)`
and `backward(dout)`. While training, layers write into buffers they keep
between steps (sized to the batch), and some work in place on their input:
a layer's forward output is owned by the network until the next step.
`backward` returns the gradient with respect to the layer's input and writes
the parameter gradients into `grads` in place, so that a network can give
each layer views into one flat gradient vector.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from worker.nn import activations
from worker.nn.arrays import FloatArray, FloatDtype

BN_EPSILON = 1e-5


class Layer(Protocol):
    """What the network needs of a layer."""

    params: dict[str, FloatArray]
    grads: dict[str, FloatArray]

    def forward(self, x: FloatArray, training: bool) -> FloatArray: ...

    def backward(self, dout: FloatArray) -> FloatArray | None: ...


def _buffer(current: FloatArray | None, shape: tuple[int, ...], dtype: FloatDtype
            ) -> FloatArray:
    """current when it has this shape and dtype, else a new empty array."""
    if current is not None and current.shape == shape and current.dtype == dtype:
        return current
    return np.empty(shape, dtype)


class Dense:
    """z = x W + b, with W of shape (n_in, n_out); `bias=False` drops b (under batch norm).

    `input_grad=False` skips dx in backward: the first layer's input is data.
    """

    def __init__(
        self, weights: FloatArray, bias: FloatArray | None, input_grad: bool = True
    ) -> None:
        self.params: dict[str, FloatArray] = {"W": weights}
        self.grads: dict[str, FloatArray] = {"W": np.zeros_like(weights)}
        if bias is not None:
            self.params["b"] = bias
            self.grads["b"] = np.zeros_like(bias)
        self.input_grad = input_grad
        self._x: FloatArray | None = None
        self._z: FloatArray | None = None
        self._dx: FloatArray | None = None

    def forward(self, x: FloatArray, training: bool) -> FloatArray:
        """x W + b; while training, remembers x and writes into the layer's buffer."""
        W = self.params["W"]
        if training:
            self._x = x
            self._z = _buffer(self._z, (x.shape[0], W.shape[1]), W.dtype)
            z = np.matmul(x, W, out=self._z)
        else:
            z = x @ W
        if "b" in self.params:
            z += self.params["b"]
        return z

    def backward(self, dout: FloatArray) -> FloatArray | None:
        """dW = x^T dout, db = sum of dout over the batch; returns dout W^T (or None)."""
        x = self._x
        assert x is not None, "Dense.backward needs a training forward first"
        np.matmul(x.T, dout, out=self.grads["W"])
        if "b" in self.grads:
            np.sum(dout, axis=0, out=self.grads["b"])
        if not self.input_grad:
            return None
        W = self.params["W"]
        self._dx = _buffer(self._dx, x.shape, W.dtype)
        return np.matmul(dout, W.T, out=self._dx)


class BatchNorm:
    """Batch normalization of pre-activations (METHODS.md section 2).

    Training: z_norm = (z - mu) / sqrt(var + eps) over the batch, out = gamma z_norm + beta,
    and running_mean, running_var follow the batch statistics as exponentially
    weighted averages with weight `momentum` on the past. Evaluation uses the
    running averages. Works in place on its input z, which it keeps centered
    (z - mu) for the backward pass; z_norm itself is never stored.
    """

    def __init__(self, gamma: FloatArray, beta: FloatArray, momentum: float) -> None:
        self.params: dict[str, FloatArray] = {"gamma": gamma, "beta": beta}
        self.grads: dict[str, FloatArray] = {
            "gamma": np.zeros_like(gamma), "beta": np.zeros_like(beta)
        }
        self.momentum = momentum
        self.running_mean = np.zeros_like(gamma)
        self.running_var = np.ones_like(gamma)
        self._centered: FloatArray | None = None
        self._inv_std: FloatArray | None = None
        self._scale: FloatArray | None = None
        self._ones: FloatArray | None = None
        self._out: FloatArray | None = None

    def state(self) -> tuple[FloatArray, FloatArray]:
        """Copies of running_mean and running_var, the layer's state besides its parameters."""
        return self.running_mean.copy(), self.running_var.copy()

    def load_state(self, running_mean: FloatArray, running_var: FloatArray) -> None:
        """Copy running_mean and running_var (of this layer's shape) into the layer."""
        self.running_mean[...] = running_mean
        self.running_var[...] = running_var

    def _column_sums(self, x: FloatArray) -> FloatArray:
        """Sum over the batch, as a matrix-vector product (several times faster than sum)."""
        self._ones = _buffer(self._ones, (x.shape[0],), x.dtype)
        self._ones.fill(1)
        return self._ones @ x

    def forward(self, z: FloatArray, training: bool) -> FloatArray:
        """gamma * normalized z + beta, by batch statistics or (evaluating) running ones."""
        gamma, beta = self.params["gamma"], self.params["beta"]
        if not training:
            z -= self.running_mean
            z *= gamma / np.sqrt(self.running_var + BN_EPSILON)
            z += beta
            return z
        m = z.shape[0]
        mean = self._column_sums(z) / m
        z -= mean
        var = np.einsum("ij,ij->j", z, z) / m
        self._inv_std = 1 / np.sqrt(var + BN_EPSILON)
        self._scale = gamma * self._inv_std
        self._centered = z
        self.running_mean *= self.momentum
        self.running_mean += (1 - self.momentum) * mean
        self.running_var *= self.momentum
        self.running_var += (1 - self.momentum) * var
        self._out = _buffer(self._out, z.shape, z.dtype)
        out = np.multiply(z, self._scale, out=self._out)
        out += beta
        return out

    def backward(self, dout: FloatArray) -> FloatArray:
        """Backprop through gamma, beta and the batch mean and variance; in place on dout.

        With z_norm = (z - mu) * inv_std and the means over the batch:
        dbeta = sum(dout), dgamma = sum(dout * z_norm),
        dz = gamma * inv_std * (dout - mean(dout) - z_norm * mean(dout * z_norm)).
        """
        centered, inv_std, scale, out = self._centered, self._inv_std, self._scale, self._out
        assert centered is not None and inv_std is not None and scale is not None \
            and out is not None, "BatchNorm.backward needs a training forward first"
        m = dout.shape[0]
        dbeta = self.grads["beta"]
        dbeta[...] = self._column_sums(dout)
        dgamma = self.grads["gamma"]
        np.multiply(np.einsum("ij,ij->j", dout, centered), inv_std, out=dgamma)
        # dz = scale * dout - [centered * (scale * inv_std * dgamma / m) + scale * dbeta / m]
        dout *= scale
        dout -= scale * dbeta / m
        # The forward output buffer is free by now: the layers above have used it.
        np.multiply(centered, scale * inv_std * dgamma / m, out=out)
        dout -= out
        return dout


class ActivationLayer:
    """A hidden activation function g applied elementwise, in place on its input."""

    def __init__(self, name: str) -> None:
        self.function = activations.get(name)
        self.params: dict[str, FloatArray] = {}
        self.grads: dict[str, FloatArray] = {}
        self._a: FloatArray | None = None

    def forward(self, z: FloatArray, training: bool) -> FloatArray:
        """g(z), written over z."""
        a = self.function.forward(z)
        if training:
            self._a = a
        return a

    def backward(self, da: FloatArray) -> FloatArray:
        """da * g'(z), written over da."""
        assert self._a is not None, "ActivationLayer.backward needs a training forward first"
        return self.function.backward(self._a, da)


class Dropout:
    """Inverted dropout: keeps each unit with probability keep_prob and divides by it.

    Only while training; at evaluation it is the identity. The masks are drawn from
    `rng`, which the network's dropout layers share.
    """

    def __init__(self, keep_prob: float, rng: np.random.Generator) -> None:
        if not 0 < keep_prob <= 1:
            raise ValueError(f"keep_prob: must satisfy 0 < value <= 1, got {keep_prob!r}")
        self.keep_prob = keep_prob
        self.rng = rng
        self.params: dict[str, FloatArray] = {}
        self.grads: dict[str, FloatArray] = {}
        self._mask: FloatArray | None = None
        self._out: FloatArray | None = None

    def state(self) -> dict[str, Any]:
        """The state of the generator the masks are drawn from (its bit_generator.state)."""
        return dict(self.rng.bit_generator.state)

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Set the generator to state (as state() gave it): the next masks follow from it."""
        self.rng.bit_generator.state = state

    def forward(self, a: FloatArray, training: bool) -> FloatArray:
        """a * mask / keep_prob while training (a new buffer: a stays intact), else a."""
        if not training:
            return a
        self._mask = _buffer(self._mask, a.shape, a.dtype)
        self.rng.random(out=self._mask, dtype=a.dtype)
        keep = self._mask < self.keep_prob
        np.multiply(keep, 1 / self.keep_prob, out=self._mask)
        self._out = _buffer(self._out, a.shape, a.dtype)
        return np.multiply(a, self._mask, out=self._out)

    def backward(self, dout: FloatArray) -> FloatArray:
        """dout * mask / keep_prob, written over dout."""
        assert self._mask is not None, "Dropout.backward needs a training forward first"
        dout *= self._mask
        return dout
