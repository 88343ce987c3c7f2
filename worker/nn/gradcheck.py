"""Gradient checking (METHODS.md section 3): backprop against two-sided differences.

For every parameter component theta_i, dtheta_approx[i] = (J(theta + eps e_i) -
J(theta - eps e_i)) / 2 eps with eps = 1e-7, where J is the training cost on a
fixed batch including the L2 term, dropout off and batch norm on the batch's
own statistics (training mode, as backprop sees it). The difference between
approx and backprop's grad is ||approx - grad|| / (||approx|| + ||grad||),
per parameter (W1, b1, gamma1, beta1, ...) and over all of them, classified:

  fine        difference < 1e-7        backprop is right
  look at it  1e-7 <= difference <= 1e-5   probably right, worth a look
  suspect     1e-5 < difference <= 1e-3    likely wrong somewhere
  bug         difference > 1e-3        backprop is wrong

Run it on float64 networks; it costs two forward passes per parameter component.
Two limits of the method show up as large differences without a bug:
- relu and leaky_relu have a kink at 0. A pre-activation within about eps of 0
  (exactly 0 happens: zero biases and an all-zero row of the previous layer)
  makes the two-sided difference average the two slopes. `kinks` counts them.
- float64 rounding of J puts a floor near 1e-9 under each approx component, so
  a parameter whose gradient is tiny (vanishing gradients, e.g. biases under
  sigmoid layers) can read near 1e-7 while backprop is right.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from worker.nn.arrays import FloatArray, LabelArray
from worker.nn.layers import ActivationLayer
from worker.nn.network import Network

EPSILON = 1e-7
FINE, LOOK, BUG = 1e-7, 1e-5, 1e-3
KINKED = ("relu", "leaky_relu")
KINK_TOLERANCE = 1e-6


def verdict(difference: float) -> str:
    """The class of a relative difference: fine, look at it, suspect or bug."""
    if difference < FINE:
        return "fine"
    if difference <= LOOK:
        return "look at it"
    if difference <= BUG:
        return "suspect"
    return "bug"


def relative_difference(approx: FloatArray, grad: FloatArray) -> float:
    """||approx - grad|| / (||approx|| + ||grad||); 0 when both are zero."""
    denominator = np.linalg.norm(approx) + np.linalg.norm(grad)
    if denominator == 0:
        return 0.0
    return float(np.linalg.norm(approx - grad) / denominator)


@dataclass(frozen=True)
class ParameterCheck:
    """The check of one parameter array."""

    name: str
    shape: tuple[int, ...]
    difference: float
    verdict: str


@dataclass(frozen=True)
class GradientCheck:
    """The check of every parameter and of all of them together.

    kinks counts relu/leaky_relu inputs within KINK_TOLERANCE of 0, where a large
    difference is the method's limit rather than a bug.
    """

    parameters: list[ParameterCheck]
    difference: float
    verdict: str
    kinks: int


def count_kinks(network: Network, X: FloatArray) -> int:
    """How many relu/leaky_relu inputs of a training-mode forward pass lie near 0."""
    kinks, out = 0, X
    for layer in network.layers:
        if isinstance(layer, ActivationLayer) and layer.function.name in KINKED:
            kinks += int(np.count_nonzero(np.abs(out) < KINK_TOLERANCE))
        out = layer.forward(out, training=True)
    return kinks


def check_gradients(
    network: Network, X: FloatArray, y: LabelArray, epsilon: float = EPSILON
) -> GradientCheck:
    """Compare backprop with two-sided differences for every parameter of a float64 network.

    The network's parameters and batch-norm running averages are left as they were.
    """
    if network.dtype != np.float64:
        raise ValueError(f"network: gradient checking needs float64 parameters, "
                         f"got {network.dtype}")
    X = np.asarray(X, dtype=np.float64)
    theta = network.flat_params
    with network.for_checking():
        kinks = count_kinks(network, X)
        network.train_step(X, y)
        grad = network.flat_grads.copy()
        approx = np.empty_like(grad)
        for i in range(theta.size):
            original = theta[i]
            theta[i] = original + epsilon
            plus = network.cost(X, y)
            theta[i] = original - epsilon
            minus = network.cost(X, y)
            theta[i] = original
            approx[i] = (plus - minus) / (2 * epsilon)
    checks, offset = [], 0
    for name, param, _ in network.parameters():
        part = slice(offset, offset + param.size)
        difference = relative_difference(approx[part], grad[part])
        checks.append(ParameterCheck(name, param.shape, difference, verdict(difference)))
        offset += param.size
    overall = relative_difference(approx, grad)
    return GradientCheck(checks, overall, verdict(overall), kinks)
