"""Output units and their cross-entropy costs.

K > 2 classes: softmax over K logits with categorical cross-entropy.
K = 2 classes: one logit, sigmoid, binary cross-entropy (label 1 is positive).
`cost_and_gradient` returns the mean cost over the batch and dJ/dlogits; the
gradient overwrites the logits array, which the caller no longer needs.
"""

from __future__ import annotations

import numpy as np

from worker.nn import activations
from worker.nn.arrays import FloatArray, LabelArray


class SoftmaxCrossEntropy:
    """Softmax output with categorical cross-entropy, for K > 2 classes."""

    def __init__(self, n_classes: int) -> None:
        self.n_classes = n_classes
        self.n_outputs = n_classes

    def cost(self, logits: FloatArray, y: LabelArray) -> float:
        """Mean cross-entropy of integer labels y under softmax(logits)."""
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(shifted).sum(axis=1))
        picked = shifted[np.arange(len(y)), y]
        return float(np.mean(log_norm - picked))

    def cost_and_gradient(self, logits: FloatArray, y: LabelArray) -> tuple[float, FloatArray]:
        """Mean cost and its gradient with respect to the logits, (p - onehot(y)) / m."""
        m = len(y)
        rows = np.arange(m)
        logits -= logits.max(axis=1, keepdims=True)
        picked = logits[rows, y]
        np.exp(logits, out=logits)
        total = logits.sum(axis=1)
        cost = float(np.mean(np.log(total) - picked))
        logits *= (1.0 / total)[:, None]
        logits[rows, y] -= 1
        logits *= 1.0 / m
        return cost, logits

    def predict(self, logits: FloatArray) -> LabelArray:
        """The most probable class of each row."""
        classes: LabelArray = np.argmax(logits, axis=1)
        return classes


class SigmoidBinaryCrossEntropy:
    """One sigmoid output with binary cross-entropy, for K = 2 classes."""

    n_classes = 2
    n_outputs = 1

    def cost(self, logits: FloatArray, y: LabelArray) -> float:
        """Mean of -[y log p + (1-y) log(1-p)], p = sigmoid(z), as softplus: finite for any z."""
        z = logits[:, 0]
        # -log sigmoid(z) = softplus(-z), -log(1 - sigmoid(z)) = softplus(z)
        losses = np.logaddexp(0, np.where(y == 1, -z, z))
        return float(np.mean(losses))

    def cost_and_gradient(self, logits: FloatArray, y: LabelArray) -> tuple[float, FloatArray]:
        """Mean cost and its gradient with respect to the logit, (p - y) / m."""
        cost = self.cost(logits, y)
        z = activations.get("sigmoid").forward(logits[:, 0])
        z -= y
        logits *= 1.0 / len(y)
        return cost, logits

    def predict(self, logits: FloatArray) -> LabelArray:
        """Class 1 where the logit is positive (p > 0.5), else class 0."""
        return (logits[:, 0] > 0).astype(np.int64)


def for_classes(n_classes: int) -> SoftmaxCrossEntropy | SigmoidBinaryCrossEntropy:
    """The output and cost for n_classes: sigmoid + BCE for 2, softmax + CE above."""
    if n_classes < 2:
        raise ValueError(f"n_classes: must be at least 2, got {n_classes}")
    if n_classes == 2:
        return SigmoidBinaryCrossEntropy()
    return SoftmaxCrossEntropy(n_classes)
