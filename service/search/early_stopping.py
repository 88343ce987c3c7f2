"""Early stopping: the median rule, decided when a running trial reports an epoch (ASHA and
Hyperband are service.search.rungs).

The median rule stops a trial whose best value so far is worse than the
median of the completed trials' values at the same epoch, once enough
trials have completed and enough epochs have passed to judge.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from domain.spec import MedianStoppingSpec, SearchSpec
from service.search.rungs import RungRule, make_rung_rule


@dataclass(frozen=True)
class MedianRule:
    """Stop when best-so-far is worse than the median of completed trials at this epoch."""

    min_trials: int
    min_epochs: int

    def should_stop(
        self,
        epoch: int,
        values_so_far: Sequence[float],
        completed_at_epoch: Sequence[float],
        goal: str,
    ) -> bool:
        """Whether the trial should stop after `epoch` (counted from 0).

        `values_so_far` are this trial's objective values at epochs 0..epoch;
        `completed_at_epoch` are completed trials' values at `epoch`. Non-finite
        values (a diverged trial's NaN loss) count as the worst possible: a trial
        with no finite value yet is worse than any median.
        """
        others = [v for v in completed_at_epoch if math.isfinite(v)]
        if len(others) < self.min_trials or epoch + 1 < self.min_epochs:
            return False
        median = statistics.median(others)
        mine = [v for v in values_so_far if math.isfinite(v)]
        if not mine:
            return True
        if goal == "maximize":
            return max(mine) < median
        return min(mine) > median


def make_early_stopping(spec: SearchSpec) -> MedianRule | RungRule | None:
    """The spec's early-stopping rule, or None when every trial runs to the end."""
    rule = spec.early_stopping
    if isinstance(rule, MedianStoppingSpec):
        return MedianRule(rule.min_trials, rule.min_epochs)
    return make_rung_rule(spec)
