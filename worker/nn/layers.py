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

from typing import Protocol

import numpy as np

from worker.nn import activations

BN_EPSILON = 1e-5


class Layer(Protocol):
    """What the network needs of a layer."""

    params: dict[str, np.ndarray]
    grads: dict[str, np.ndarray]

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray: ...

    def backward(self, dout: np.ndarray) -> np.ndarray | None: ...


def _buffer(current: np.ndarray | None, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """current when it has this shape and dtype, else a new empty array."""
    if current is not None and current.shape == shape and current.dtype == dtype:
        return current
    return np.empty(shape, dtype)


class Dense:
    """z = x W + b, with W of shape (n_in, n_out); `bias=False` drops b (under batch norm).

    `input_grad=False` skips dx in backward: the first layer's input is data.
    """

    def __init__(
        self, weights: np.ndarray, bias: np.ndarray | None, input_grad: bool = True
    ) -> None:
        self.params: dict[str, np.ndarray] = {"W": weights}
        self.grads: dict[str, np.ndarray] = {"W": np.zeros_like(weights)}
        if bias is not None:
            self.params["b"] = bias
            self.grads["b"] = np.zeros_like(bias)
        self.input_grad = input_grad
        self._x: np.ndarray | None = None
        self._z: np.ndarray | None = None
        self._dx: np.ndarray | None = None

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
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

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        """dW = x^T dout, db = sum of dout over the batch; returns dout W^T (or None)."""
        x = self._x
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

    def __init__(self, gamma: np.ndarray, beta: np.ndarray, momentum: float) -> None:
        self.params: dict[str, np.ndarray] = {"gamma": gamma, "beta": beta}
        self.grads: dict[str, np.ndarray] = {
            "gamma": np.zeros_like(gamma), "beta": np.zeros_like(beta)
        }
        self.momentum = momentum
        self.running_mean = np.zeros_like(gamma)
        self.running_var = np.ones_like(gamma)
        self._centered: np.ndarray | None = None
        self._inv_std: np.ndarray | None = None
        self._scale: np.ndarray | None = None
        self._ones: np.ndarray | None = None
        self._out: np.ndarray | None = None

    def _column_sums(self, x: np.ndarray) -> np.ndarray:
        """Sum over the batch, as a matrix-vector product (several times faster than sum)."""
        self._ones = _buffer(self._ones, (x.shape[0],), x.dtype)
        self._ones.fill(1)
        return self._ones @ x

    def forward(self, z: np.ndarray, training: bool) -> np.ndarray:
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

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """Backprop through gamma, beta and the batch mean and variance; in place on dout.

        With z_norm = (z - mu) * inv_std and the means over the batch:
        dbeta = sum(dout), dgamma = sum(dout * z_norm),
        dz = gamma * inv_std * (dout - mean(dout) - z_norm * mean(dout * z_norm)).
        """
        centered, inv_std, scale = self._centered, self._inv_std, self._scale
        m = dout.shape[0]
        dbeta = self.grads["beta"]
        dbeta[...] = self._column_sums(dout)
        dgamma = self.grads["gamma"]
        np.multiply(np.einsum("ij,ij->j", dout, centered), inv_std, out=dgamma)
        # dz = scale * dout - [centered * (scale * inv_std * dgamma / m) + scale * dbeta / m]
        dout *= scale
        dout -= scale * dbeta / m
        # The forward output buffer is free by now: the layers above have used it.
        np.multiply(centered, scale * inv_std * dgamma / m, out=self._out)
        dout -= self._out
        return dout


class ActivationLayer:
    """A hidden activation function g applied elementwise, in place on its input."""

    def __init__(self, name: str) -> None:
        self.function = activations.get(name)
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self._a: np.ndarray | None = None

    def forward(self, z: np.ndarray, training: bool) -> np.ndarray:
        """g(z), written over z."""
        a = self.function.forward(z)
        if training:
            self._a = a
        return a

    def backward(self, da: np.ndarray) -> np.ndarray:
        """da * g'(z), written over da."""
        return self.function.backward(self._a, da)


class Dropout:
    """Inverted dropout: keeps each unit with probability keep_prob and divides by it.

    Only while training; at evaluation it is the identity.
    """

    def __init__(self, keep_prob: float, rng: np.random.Generator) -> None:
        if not 0 < keep_prob <= 1:
            raise ValueError(f"keep_prob: must satisfy 0 < value <= 1, got {keep_prob!r}")
        self.keep_prob = keep_prob
        self.rng = rng
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self._mask: np.ndarray | None = None
        self._out: np.ndarray | None = None

    def forward(self, a: np.ndarray, training: bool) -> np.ndarray:
        """a * mask / keep_prob while training (a new buffer: a stays intact), else a."""
        if not training:
            return a
        self._mask = _buffer(self._mask, a.shape, a.dtype)
        self.rng.random(out=self._mask, dtype=a.dtype)
        keep = self._mask < self.keep_prob
        np.multiply(keep, 1 / self.keep_prob, out=self._mask)
        self._out = _buffer(self._out, a.shape, a.dtype)
        return np.multiply(a, self._mask, out=self._out)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout * mask / keep_prob, written over dout."""
        dout *= self._mask
        return dout
