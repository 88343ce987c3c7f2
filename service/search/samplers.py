"""Samplers: given the space and the search's history, propose the next trial's params.

The server calls `sampler.sample(space, history, trial_rng(seed, len(history)))`
with every trial created so far, in number order, while holding the search's
lock; the result depends only on those, so the same seed and the same history
give the same params. `None` means "nothing to propose now": the grid is
exhausted, or coarse_to_fine waits for its round to finish.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from domain.lifecycle.states import TERMINAL, TrialStatus
from domain.space import Space
from domain.spec import (
    CoarseToFineSamplerSpec,
    GridSamplerSpec,
    RandomSamplerSpec,
    SearchSpec,
    SobolSamplerSpec,
    TPESamplerSpec,
)

Box = dict[str, tuple[float, float]]


@dataclass(frozen=True)
class HistoryEntry:
    """One trial of the search's history: its sampled params, state and objective value.

    `at_rungs` maps the epochs of each rung the trial reached (ASHA and Hyperband) to its
    value there, so that trials can be compared at equal budget; empty without rungs.
    """

    number: int
    params: dict[str, Any]
    status: TrialStatus
    value: float | None
    round: int | None = None
    at_rungs: Mapping[int, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Proposal:
    """The next trial's params; coarse_to_fine adds its round and the unit-space box."""

    params: dict
    round: int | None = None
    box: Box | None = None


class Sampler(Protocol):
    """Proposes params from the space, the history and a generator seeded for this trial."""

    def sample(
        self, space: Space, history: Sequence[HistoryEntry], rng: np.random.Generator
    ) -> Proposal | None: ...

    def capacity(self, space: Space) -> int | None:
        """How many distinct trials the sampler can propose; None when unbounded."""
        ...


def trial_rng(seed: int, number: int) -> np.random.Generator:
    """The generator for trial `number` of a search seeded `seed`: independent per trial."""
    return np.random.default_rng([seed, number])


class RandomSampler:
    """Each trial an independent uniform draw in the unit cube, mapped by the scales."""

    def sample(
        self, space: Space, history: Sequence[HistoryEntry], rng: np.random.Generator
    ) -> Proposal | None:
        return Proposal(space.from_unit(rng.random(len(space.dims))))

    def capacity(self, space: Space) -> int | None:
        return None


@dataclass(frozen=True)
class GridSampler:
    """Trial n is grid point n (Space.grid_point); None once the grid is used up."""

    points: int

    def sample(
        self, space: Space, history: Sequence[HistoryEntry], rng: np.random.Generator
    ) -> Proposal | None:
        if len(history) >= space.grid_size(self.points):
            return None
        return Proposal(space.grid_point(self.points, len(history)))

    def capacity(self, space: Space) -> int | None:
        return space.grid_size(self.points)


@dataclass(frozen=True)
class SobolSampler:
    """Trial n is point n of a Sobol' sequence scrambled with the search's seed."""

    seed: int

    def sample(
        self, space: Space, history: Sequence[HistoryEntry], rng: np.random.Generator
    ) -> Proposal | None:
        from scipy.stats import qmc  # imported here: it costs a second at server start

        engine = qmc.Sobol(len(space.dims), scramble=True, seed=self.seed)
        if history:  # scipy's fast_forward(0) overflows
            engine.fast_forward(len(history))
        return Proposal(space.from_unit(engine.random(1)[0]))

    def capacity(self, space: Space) -> int | None:
        return None


@dataclass(frozen=True)
class CoarseToFineSampler:
    """Rounds of `round_size` trials, each sampling uniformly inside a unit-space box.

    Round 0's box is the whole cube. Round r+1 starts when every trial of round
    r has finished; its box is centred on the mean unit point of round r's top
    `top_fraction` completed trials (at least one) and is `shrink` times as
    wide as round r's box in every dimension, moved (not cut) to lie inside
    the cube, so each round samples a region `shrink`^d times smaller. A round
    with no completed trial keeps its box for the next round.
    """

    round_size: int
    top_fraction: float
    shrink: float
    goal: str

    def sample(
        self, space: Space, history: Sequence[HistoryEntry], rng: np.random.Generator
    ) -> Proposal | None:
        rounds = self._rounds(history)
        if len(rounds[-1]) >= self.round_size:
            if any(trial.status not in TERMINAL for trial in rounds[-1]):
                return None
            rounds.append([])
        box = self._boxes(space, rounds)[-1]
        lows = np.array([box[name][0] for name in space.names])
        highs = np.array([box[name][1] for name in space.names])
        point = lows + rng.random(len(space.dims)) * (highs - lows)
        return Proposal(space.from_unit(point), round=len(rounds) - 1, box=box)

    def capacity(self, space: Space) -> int | None:
        return None

    def boxes(self, space: Space, history: Sequence[HistoryEntry]) -> list[Box]:
        """The box of every round started so far, round 0 first."""
        return self._boxes(space, self._rounds(history))

    @staticmethod
    def _rounds(history: Sequence[HistoryEntry]) -> list[list[HistoryEntry]]:
        count = 1 + max((trial.round or 0 for trial in history), default=0)
        rounds: list[list[HistoryEntry]] = [[] for _ in range(count)]
        for trial in history:
            rounds[trial.round or 0].append(trial)
        return rounds

    def _boxes(self, space: Space, rounds: list[list[HistoryEntry]]) -> list[Box]:
        """The box of each round; every round but the last must have finished."""
        tops = [self._top(trials) for trials in rounds[:-1]]
        units = space.to_unit_many([trial.params for top in tops for trial in top])
        lows, widths = np.zeros(len(space.dims)), np.ones(len(space.dims))
        result = [_box(space, lows, widths)]
        start = 0
        for top in tops:
            if top:
                centre = units[start:start + len(top)].mean(axis=0)
                start += len(top)
                widths = widths * self.shrink
                lows = np.clip(centre - widths / 2, 0.0, 1.0 - widths)
            result.append(_box(space, lows, widths))
        return result

    def _top(self, trials: Sequence[HistoryEntry]) -> list[HistoryEntry]:
        """The round's best `top_fraction` of completed trials (at least one, if any)."""
        sign = -1.0 if self.goal == "maximize" else 1.0
        ranked = sorted((sign * t.value, t.number, t) for t in trials
                        if t.status == TrialStatus.COMPLETED and t.value is not None
                        and math.isfinite(t.value))
        # round() first: 0.3 * 10 is 3.0000000000000004 in floating point, whose ceil is 4
        top = max(1, math.ceil(round(self.top_fraction * len(ranked), 9)))
        return [trial for _, _, trial in ranked[:top]]


def _box(space: Space, lows: np.ndarray, widths: np.ndarray) -> Box:
    return {name: (float(low), float(low + width))
            for name, low, width in zip(space.names, lows, widths, strict=True)}


def make_sampler(spec: SearchSpec) -> Sampler:
    """The sampler a validated spec asks for."""
    sampler = spec.sampler
    if isinstance(sampler, RandomSamplerSpec):
        return RandomSampler()
    if isinstance(sampler, GridSamplerSpec):
        return GridSampler(sampler.grid_points)
    if isinstance(sampler, SobolSamplerSpec):
        return SobolSampler(sampler.seed)
    if isinstance(sampler, CoarseToFineSamplerSpec):
        return CoarseToFineSampler(
            sampler.round_size, sampler.top_fraction, sampler.shrink, spec.objective.goal
        )
    if isinstance(sampler, TPESamplerSpec):
        from service.search.tpe import TPESampler  # tpe imports this module

        return TPESampler(sampler.seed, sampler.startup_trials, sampler.multivariate,
                          spec.objective.goal)
    raise ValueError(f"sampler kind {sampler.kind!r} has no implementation")
