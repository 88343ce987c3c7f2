"""A fully connected network: the layer stack, its cost with L2, and backprop.

Each hidden layer l is Dense -> [BatchNorm] -> ActivationLayer -> [Dropout]; under
batch norm the Dense bias is dropped (beta takes its place). The output layer
is Dense with bias into the loss of `losses.for_classes`. All parameters live
in one flat vector (`flat_params`) and all gradients in another
(`flat_grads`); the layers hold views into them, so an optimizer updates the
whole network with one array. Parameters are named by layer: W1, b1, gamma1,
beta1, ..., W{L}, b{L}.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from worker.nn import initializers, losses
from worker.nn.arrays import FloatArray, LabelArray
from worker.nn.layers import ActivationLayer, BatchNorm, Dense, Dropout, Layer


@dataclass(frozen=True)
class Architecture:
    """What a network is made of: sizes, activation, init and regularization."""

    n_features: int
    hidden: tuple[int, ...]
    n_classes: int
    activation: str = "relu"
    init: str = "auto"
    batch_norm: bool = False
    bn_momentum: float = 0.9
    l2: float = 0.0
    keep_prob: float = 1.0


class Network:
    """The layer stack of an Architecture, with parameters of one float dtype."""

    def __init__(
        self, arch: Architecture, rng: np.random.Generator,
        dtype: type[np.floating[Any]] = np.float32,
    ) -> None:
        self.arch = arch
        self.dtype = np.dtype(dtype)
        self.loss = losses.for_classes(arch.n_classes)
        self.layers: list[Layer] = []
        self._named: list[tuple[str, Layer, str]] = []
        scheme = initializers.resolve(arch.init, arch.activation)
        sizes = [arch.n_features, *arch.hidden]
        for number, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
            W = initializers.weights(scheme, n_in, n_out, rng, self.dtype)
            bias = None if arch.batch_norm else np.zeros(n_out, self.dtype)
            self._add(Dense(W, bias, input_grad=number > 1), number)
            if arch.batch_norm:
                gamma, beta = np.ones(n_out, self.dtype), np.zeros(n_out, self.dtype)
                self._add(BatchNorm(gamma, beta, arch.bn_momentum), number)
            self._add(ActivationLayer(arch.activation), number)
            if arch.keep_prob < 1:
                self._add(Dropout(arch.keep_prob, rng), number)
        L = len(sizes)
        W = initializers.weights(scheme, sizes[-1], self.loss.n_outputs, rng, self.dtype)
        self._add(Dense(W, np.zeros(self.loss.n_outputs, self.dtype), input_grad=L > 1), L)
        self._pack()

    def _add(self, layer: Layer, number: int) -> None:
        self.layers.append(layer)
        for key in layer.params:
            self._named.append((f"{key}{number}", layer, key))

    def _pack(self) -> None:
        """Move every parameter and gradient into views of two flat vectors."""
        total = sum(layer.params[key].size for _, layer, key in self._named)
        self.flat_params = np.empty(total, self.dtype)
        self.flat_grads = np.zeros(total, self.dtype)
        offset = 0
        for _, layer, key in self._named:
            shape = layer.params[key].shape
            size = layer.params[key].size
            view = self.flat_params[offset:offset + size].reshape(shape)
            view[...] = layer.params[key]
            layer.params[key] = view
            layer.grads[key] = self.flat_grads[offset:offset + size].reshape(shape)
            offset += size
        self._weights = [layer.params["W"] for layer in self.layers if isinstance(layer, Dense)]
        self._weight_grads = [
            layer.grads["W"] for layer in self.layers if isinstance(layer, Dense)
        ]

    def parameters(self) -> list[tuple[str, FloatArray, FloatArray]]:
        """(name, parameter, gradient) of every parameter, in layer order."""
        return [(name, layer.params[key], layer.grads[key]) for name, layer, key in self._named]

    @contextmanager
    def for_checking(self) -> Iterator[None]:
        """Dropout off and batch-norm running averages restored afterwards (for checking)."""
        dropouts = [layer for layer in self.layers if isinstance(layer, Dropout)]
        norms = [layer for layer in self.layers if isinstance(layer, BatchNorm)]
        keep = [layer.keep_prob for layer in dropouts]
        running = [layer.state() for layer in norms]
        for dropout in dropouts:
            dropout.keep_prob = 1.0
        try:
            yield
        finally:
            for dropout, keep_prob in zip(dropouts, keep, strict=True):
                dropout.keep_prob = keep_prob
            for norm, (mean, var) in zip(norms, running, strict=True):
                norm.load_state(mean, var)

    def forward(self, X: FloatArray, training: bool) -> FloatArray:
        """The logits of a batch X (rows are examples)."""
        out = X
        for layer in self.layers:
            out = layer.forward(out, training)
        return out

    def l2_cost(self, m: int) -> float:
        """(lambda / 2m) * sum of ||W||^2 over the layers."""
        if self.arch.l2 == 0:
            return 0.0
        total = sum(float(np.vdot(W, W)) for W in self._weights)
        return self.arch.l2 / (2 * m) * total

    def cost(self, X: FloatArray, y: LabelArray, training: bool = True) -> float:
        """Cross-entropy of X against labels y plus the L2 term, without backprop."""
        return self.loss.cost(self.forward(X, training), y) + self.l2_cost(len(y))

    def train_step(self, X: FloatArray, y: LabelArray) -> float:
        """Forward and backward on a batch; fills flat_grads (with L2) and returns the cost."""
        m = len(y)
        logits = self.forward(X, training=True)
        cost, dout = self.loss.cost_and_gradient(logits, y)
        upstream: FloatArray | None = dout
        for layer in reversed(self.layers):
            if upstream is None:
                break  # the layer above needs no gradient of its input: the input is data
            upstream = layer.backward(upstream)
        if self.arch.l2 != 0:
            factor = self.arch.l2 / m
            for W, dW in zip(self._weights, self._weight_grads, strict=True):
                dW += factor * W
        return cost + self.l2_cost(m)

    def predict(self, X: FloatArray) -> LabelArray:
        """The predicted class of each row of X, in evaluation mode."""
        return self.loss.predict(self.forward(X, training=False))
