"""Rungs: successive halving's checkpoints in a trial's training, for ASHA and Hyperband
(METHODS.md section 4).

A bracket's rungs are at `first · eta^k` epochs, k = 0, 1, ..., below the trial's epochs;
bracket s starts at `min_epochs · eta^s` (ASHA is bracket 0 alone). When a trial reaches
a rung, its value there is ranked among every value recorded at that rung of its bracket
so far, its own included, and the rule (`keeps`) says whether it goes on:

- while the rung holds fewer than `grace` values, every trial goes on (Optuna's
  `bootstrap_count`);
- while it holds fewer than eta values, only the best so far goes on (the paper's
  rule for sparse rungs: top ⌊n/eta⌋ would be none);
- then a trial goes on if fewer than ⌊n/eta⌋ values beat it (ties go its way).

A trial that does not go on stops there, or with `resume` pauses; a paused trial is
promoted (resumed) once the same rule keeps it, as later values join its rung.

Hyperband spreads trials over brackets s = 0..s_max, s_max = ⌊log_eta(r_max / r_min)⌋
with r_max the most epochs a trial trains: bracket s gets a share of the trials in
inverse proportion to the epochs a trial of it is expected to train, so that every
bracket spends about the same epochs. Trial n's bracket is where the golden-ratio
sequence frac(n / φ) falls among the shares: deterministic, and evenly spread from the
first trials on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

from domain.lifecycle.states import StopCause, TrialStatus
from domain.spec import AshaStoppingSpec, HyperbandStoppingSpec, SearchSpec

_GOLDEN = (math.sqrt(5) - 1) / 2  # 1/φ: frac(n/φ) fills [0, 1) evenly for n = 0, 1, ...


class Outcome(StrEnum):
    """What became of a trial at a rung it reached (stored with its value there)."""

    CONTINUED = "continued"
    """It was in the rung's top and went on at once."""
    STOPPED = "stopped"
    """It was not, and ended there."""
    PAUSED = TrialStatus.PAUSED.value
    """It was not, and paused there with its checkpoint (it may be resumed)."""
    RESUMED = "resumed"
    """It paused there and was promoted later, when it had risen into the top."""


@dataclass(frozen=True)
class RungRule:
    """ASHA (one bracket) or Hyperband (brackets 0..s_max) of a search."""

    kind: str
    eta: int
    min_epochs: int
    grace: int
    resume: bool
    max_epochs: int
    """The most epochs a trial of the search trains (r_max)."""

    @property
    def cause(self) -> StopCause:
        """The stop cause of a trial this rule ends at a rung."""
        return StopCause.of_rule(self.kind)

    @cached_property
    def brackets(self) -> int:
        """How many brackets: s_max + 1 for Hyperband, 1 for ASHA."""
        if self.kind != "hyperband":
            return 1
        s_max = 0
        while self.min_epochs * self.eta ** (s_max + 1) <= self.max_epochs:
            s_max += 1
        return s_max + 1

    def rungs(self, bracket: int, epochs: int) -> list[int]:
        """The epochs of each rung of the bracket for a trial training `epochs` epochs."""
        found, rung = [], self.min_epochs * self.eta ** bracket
        while rung < epochs:
            found.append(rung)
            rung *= self.eta
        return found

    def rung_at(self, bracket: int, epochs_done: int, epochs: int) -> int | None:
        """The index of the rung a trial reaches when it has trained `epochs_done` epochs, or
        None if that is no rung."""
        rungs = self.rungs(bracket, epochs)
        return rungs.index(epochs_done) if epochs_done in rungs else None

    def keeps(self, better: int, count: int) -> bool:
        """Whether a value that `better` of the rung's `count` values beat (its own counted
        in `count`) is in the rung's top: the trial goes on, or is promoted."""
        if count < self.grace:
            return True
        if count < self.eta:
            return better == 0
        return better < count // self.eta

    def expected_epochs(self, bracket: int) -> float:
        """The epochs a trial of the bracket trains on average, if 1/eta goes on at each rung
        (trials training r_max epochs)."""
        rungs = self.rungs(bracket, self.max_epochs)
        if not rungs:
            return float(self.max_epochs)
        ends = [*rungs[1:], self.max_epochs]
        return rungs[0] + sum((end - rung) / self.eta ** (k + 1)
                              for k, (rung, end) in enumerate(zip(rungs, ends, strict=True)))

    @cached_property
    def _bounds(self) -> list[float]:
        """The upper end of each bracket's share of [0, 1)."""
        weights = [1.0 / self.expected_epochs(s) for s in range(self.brackets)]
        total, running, bounds = sum(weights), 0.0, []
        for weight in weights:
            running += weight / total
            bounds.append(running)
        bounds[-1] = 1.0
        return bounds

    def bracket_of(self, number: int) -> int:
        """The bracket of the search's trial `number` (0 for ASHA)."""
        if self.brackets == 1:
            return 0
        u = (number * _GOLDEN) % 1.0
        return next(s for s, bound in enumerate(self._bounds) if u < bound)


def make_rung_rule(spec: SearchSpec) -> RungRule | None:
    """The spec's rung rule, or None when it asks for no ASHA or Hyperband."""
    rule = spec.early_stopping
    if not isinstance(rule, AshaStoppingSpec | HyperbandStoppingSpec):
        return None
    return RungRule(kind=rule.kind, eta=rule.eta, min_epochs=rule.min_epochs, grace=rule.grace,
                    resume=rule.resume,
                    max_epochs=SearchSpec.max_epochs(spec.parameters, spec.fixed))
