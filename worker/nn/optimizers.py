"""Update rules (METHODS.md section 2): SGD, Momentum, RMSprop and Adam.

Each optimizer owns its state (v, s, the step count t) and updates a list of
parameter arrays in place from their gradients with `step(params, grads)`.
The state is created at the first step, shaped like the parameters; the
arrays must be the same objects at every step. `learning_rate` is an
attribute so that a schedule can change it between epochs. Gradients are only
read; each update works through one scratch array per parameter.
"""

from __future__ import annotations

import math

import numpy as np

from domain.training import OPTIMIZERS
from worker.nn.arrays import FloatArray


class Optimizer:
    """Common state: the learning rate, the step count t, one scratch array per parameter."""

    def __init__(self, learning_rate: float) -> None:
        self.learning_rate = learning_rate
        self.t = 0
        self._scratch: list[FloatArray] = []

    def step(self, params: list[FloatArray], grads: list[FloatArray]) -> None:
        """Update every parameter in place from its gradient; t counts steps from 1."""
        if not self._scratch:
            self._scratch = [np.empty_like(p) for p in params]
            self._init_state(params)
        self.t += 1
        for index, (param, grad) in enumerate(zip(params, grads, strict=True)):
            self._update(index, param, grad, self._scratch[index])

    def _init_state(self, params: list[FloatArray]) -> None:
        """Create v and s for the parameters (none by default)."""

    def _update(self, index: int, W: FloatArray, dW: FloatArray, tmp: FloatArray) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """W -= alpha dW."""

    def _update(self, index: int, W: FloatArray, dW: FloatArray, tmp: FloatArray) -> None:
        np.multiply(dW, self.learning_rate, out=tmp)
        W -= tmp


class Momentum(Optimizer):
    """v_dW = beta v_dW + (1 - beta) dW;  W -= alpha v_dW."""

    def __init__(self, learning_rate: float, beta: float = 0.9) -> None:
        super().__init__(learning_rate)
        self.beta = beta
        self.v: list[FloatArray] = []

    def _init_state(self, params: list[FloatArray]) -> None:
        self.v = [np.zeros_like(p) for p in params]

    def _update(self, index: int, W: FloatArray, dW: FloatArray, tmp: FloatArray) -> None:
        v = self.v[index]
        v *= self.beta
        np.multiply(dW, 1 - self.beta, out=tmp)
        v += tmp
        np.multiply(v, self.learning_rate, out=tmp)
        W -= tmp


class RMSprop(Optimizer):
    """s_dW = beta2 s_dW + (1 - beta2) dW^2;  W -= alpha dW / (sqrt(s_dW) + epsilon)."""

    def __init__(self, learning_rate: float, beta2: float = 0.999, epsilon: float = 1e-8) -> None:
        super().__init__(learning_rate)
        self.beta2 = beta2
        self.epsilon = epsilon
        self.s: list[FloatArray] = []

    def _init_state(self, params: list[FloatArray]) -> None:
        self.s = [np.zeros_like(p) for p in params]

    def _update(self, index: int, W: FloatArray, dW: FloatArray, tmp: FloatArray) -> None:
        s = self.s[index]
        s *= self.beta2
        np.multiply(dW, dW, out=tmp)
        tmp *= 1 - self.beta2
        s += tmp
        np.sqrt(s, out=tmp)
        tmp += self.epsilon
        np.divide(dW, tmp, out=tmp)
        tmp *= self.learning_rate
        W -= tmp


class Adam(Optimizer):
    """Momentum and RMSprop with bias correction at step t (from 1).

    v = beta1 v + (1 - beta1) dW,  s = beta2 s + (1 - beta2) dW^2,
    v_hat = v / (1 - beta1^t),  s_hat = s / (1 - beta2^t),
    W -= alpha v_hat / (sqrt(s_hat) + epsilon).
    """

    def __init__(
        self,
        learning_rate: float,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
    ) -> None:
        super().__init__(learning_rate)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.v: list[FloatArray] = []
        self.s: list[FloatArray] = []

    def _init_state(self, params: list[FloatArray]) -> None:
        self.v = [np.zeros_like(p) for p in params]
        self.s = [np.zeros_like(p) for p in params]

    def _update(self, index: int, W: FloatArray, dW: FloatArray, tmp: FloatArray) -> None:
        v, s = self.v[index], self.s[index]
        v *= self.beta1
        np.multiply(dW, 1 - self.beta1, out=tmp)
        v += tmp
        s *= self.beta2
        np.multiply(dW, dW, out=tmp)
        tmp *= 1 - self.beta2
        s += tmp
        # sqrt(s_hat) + eps = sqrt(s) / sqrt(1 - beta2^t) + eps
        np.sqrt(s, out=tmp)
        tmp *= 1 / math.sqrt(1 - self.beta2**self.t)
        tmp += self.epsilon
        np.divide(v, tmp, out=tmp)
        tmp *= self.learning_rate / (1 - self.beta1**self.t)
        W -= tmp


def create(
    name: str,
    learning_rate: float,
    beta1: float = 0.9,
    beta2: float = 0.999,
    epsilon: float = 1e-8,
) -> Optimizer:
    """The optimizer called name (one of domain.training.OPTIMIZERS); momentum takes beta1."""
    if name == "sgd":
        return SGD(learning_rate)
    if name == "momentum":
        return Momentum(learning_rate, beta1)
    if name == "rmsprop":
        return RMSprop(learning_rate, beta2, epsilon)
    if name == "adam":
        return Adam(learning_rate, beta1, beta2, epsilon)
    raise ValueError(f"optimizer: must be one of {', '.join(OPTIMIZERS)}, got {name!r}")
