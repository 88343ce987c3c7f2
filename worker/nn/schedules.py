"""Learning-rate decay, applied per epoch (METHODS.md section 2); epoch e counts from 0.

none:          alpha = alpha0
inverse_time:  alpha = alpha0 / (1 + k e)
exponential:   alpha = base^e alpha0
inverse_sqrt:  alpha = k alpha0 / sqrt(e + 1)
staircase:     alpha = alpha0 factor^floor(e / every)
`rate` is k, the base or the factor, as the schedule reads it.
"""

from __future__ import annotations

import math

from domain.training import LR_DECAYS


def learning_rate(
    schedule: str, alpha0: float, epoch: int, rate: float, every: int = 1
) -> float:
    """The learning rate of epoch (from 0) under schedule (one of domain.training.LR_DECAYS)."""
    if epoch < 0:
        raise ValueError(f"epoch: must be >= 0, got {epoch}")
    if schedule == "none":
        return alpha0
    if schedule == "inverse_time":
        return alpha0 / (1 + rate * epoch)
    if schedule == "exponential":
        return rate**epoch * alpha0
    if schedule == "inverse_sqrt":
        return rate * alpha0 / math.sqrt(epoch + 1)
    if schedule == "staircase":
        if every < 1:
            raise ValueError(f"decay_every: must be >= 1, got {every}")
        return alpha0 * rate ** (epoch // every)
    raise ValueError(f"lr_decay: must be one of {', '.join(LR_DECAYS)}, got {schedule!r}")
