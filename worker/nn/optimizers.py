"""Update rules (METHODS.md section 2): SGD, Momentum, RMSprop and Adam.

Each optimizer owns its state (v, s, the step count t) and updates a list of
parameter arrays in place from their gradients with `step(params, grads)`.
The state is created at the first step, shaped like the parameters; the
arrays must be the same objects at every step. `state()` copies it out and
`load_state` puts it back, so that a run resumed from a checkpoint takes the
very steps it would have taken without the pause. `learning_rate` is an
attribute so that a schedule can change it between epochs. Gradients are only
read; each update works through one scratch array per parameter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from domain.training import OPTIMIZERS
from worker.nn.arrays import FloatArray


@dataclass(frozen=True, eq=False)
class OptimizerState:
    """A copy of what an optimizer carries from step to step: the step count t and
    its v and s arrays, one per parameter (empty where the rule keeps none)."""

    t: int
    v: tuple[FloatArray, ...] = ()
    s: tuple[FloatArray, ...] = ()


class Optimizer:
    """Common state: the learning rate, the step count t, v and s (empty where the rule
    keeps none), one scratch array per parameter."""

    keeps: tuple[str, ...] = ()
    """Which of v and s the rule keeps; they start at zero at the first step."""

    def __init__(self, learning_rate: float) -> None:
        self.learning_rate = learning_rate
        self.t = 0
        self.v: list[FloatArray] = []
        self.s: list[FloatArray] = []
        self._scratch: list[FloatArray] = []

    def step(self, params: list[FloatArray], grads: list[FloatArray]) -> None:
        """Update every parameter in place from its gradient; t counts steps from 1."""
        if not self._scratch:
            self._scratch = [np.empty_like(p) for p in params]
        if self.t == 0:
            self.v = [np.zeros_like(p) for p in params] if "v" in self.keeps else []
            self.s = [np.zeros_like(p) for p in params] if "s" in self.keeps else []
        self.t += 1
        for index, (param, grad) in enumerate(zip(params, grads, strict=True)):
            self._update(index, param, grad, self._scratch[index])

    def state(self) -> OptimizerState:
        """A copy of t, v and s: load_state on a new optimizer of the rule goes on from it."""
        return OptimizerState(self.t, _copies(self.v), _copies(self.s))

    def load_state(self, state: OptimizerState) -> None:
        """Go on from state (taken by state() of this rule), copied; the next step is t + 1.

        Raises ValueError when state does not hold the arrays this rule keeps.
        """
        expected = self.keeps if state.t > 0 else ()
        held = tuple(name for name, arrays in (("v", state.v), ("s", state.s)) if arrays)
        if held != expected:
            raise ValueError(f"{type(self).__name__} at t={state.t} keeps "
                             f"{' and '.join(expected) or 'no arrays'}; the state holds "
                             f"{' and '.join(held) or 'none'}")
        self.t, self.v, self.s = state.t, list(_copies(state.v)), list(_copies(state.s))

    def _update(self, index: int, W: FloatArray, dW: FloatArray, tmp: FloatArray) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """W -= alpha dW."""

    def _update(self, index: int, W: FloatArray, dW: FloatArray, tmp: FloatArray) -> None:
        np.multiply(dW, self.learning_rate, out=tmp)
        W -= tmp


class Momentum(Optimizer):
    """v_dW = beta v_dW + (1 - beta) dW;  W -= alpha v_dW."""

    keeps = ("v",)

    def __init__(self, learning_rate: float, beta: float = 0.9) -> None:
        super().__init__(learning_rate)
        self.beta = beta

    def _update(self, index: int, W: FloatArray, dW: FloatArray, tmp: FloatArray) -> None:
        v = self.v[index]
        v *= self.beta
        np.multiply(dW, 1 - self.beta, out=tmp)
        v += tmp
        np.multiply(v, self.learning_rate, out=tmp)
        W -= tmp


class RMSprop(Optimizer):
    """s_dW = beta2 s_dW + (1 - beta2) dW^2;  W -= alpha dW / (sqrt(s_dW) + epsilon)."""

    keeps = ("s",)

    def __init__(self, learning_rate: float, beta2: float = 0.999, epsilon: float = 1e-8) -> None:
        super().__init__(learning_rate)
        self.beta2 = beta2
        self.epsilon = epsilon

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

    keeps = ("v", "s")

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


def _copies(arrays: list[FloatArray] | tuple[FloatArray, ...]) -> tuple[FloatArray, ...]:
    return tuple(array.copy() for array in arrays)


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
