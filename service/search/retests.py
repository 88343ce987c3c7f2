"""Re-testing (METHODS.md §4): a setting that won once may have been lucky, so its trial is
trained again with new seeds, and settings are ranked by the mean of their runs.

- `retest_seeds`: the new seeds of a trial's re-tests, drawn from the search's sampler seed
  and the trial's number (the same search gives the same seeds), never the trial's own
  seed and never one of its earlier re-tests'.
- `leaderboard`: the one ranking of a search's settings by their runs (the API's
  `GET /searches/{id}/leaderboard`, which the CLI and the dashboard show).

Pure: service.store.retests reads and writes.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from domain.spec import SEED_MAX, SearchSpec
from domain.training import KEYS

SEED = "seed"
"""The training key a re-test changes."""
_RETEST_STREAM = 1
"""Appended to (sampler seed, trial number), so that the seeds of re-tests are a stream of
their own, not the sampler's for that trial (service.search.samplers.trial_rng)."""


def original_seed(spec: SearchSpec, params: Mapping[str, Any]) -> int:
    """The training seed a trial ran with: its own (`seed` searched), the spec's fixed one,
    or the training default."""
    seed = params.get(SEED, spec.fixed.get(SEED, KEYS[SEED].default))
    return int(seed)


def retest_seeds(sampler_seed: int, number: int, original: int, skip: int, count: int
                 ) -> list[int]:
    """Seeds `skip` .. `skip + count - 1` of the re-tests of trial `number`: distinct draws
    of a stream seeded by (sampler seed, number), the original seed left out. A trial with
    `skip` re-tests so far gets new seeds, different from all of theirs."""
    rng = np.random.default_rng([sampler_seed, number, _RETEST_STREAM])
    seen = {original}
    seeds: list[int] = []
    while len(seeds) < skip + count:
        seed = int(rng.integers(0, SEED_MAX, endpoint=True))
        if seed not in seen:
            seen.add(seed)
            seeds.append(seed)
    return seeds[skip:]


def retest_params(params: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """A re-test's params: the trial's, with the training seed replaced (set, if the trial
    took it from the spec's fixed keys or the default; the worker lets params win)."""
    return {**params, SEED: seed}


@dataclass(frozen=True)
class Run:
    """A completed trial's result: its id, number, objective value, and the trial it
    re-tests (None for one its sampler proposed)."""

    trial_id: int
    number: int
    value: float
    origin_trial_id: int | None


@dataclass(frozen=True)
class Group:
    """A setting's runs: the trial its sampler proposed (`trial_id`, `number`) first, then
    its completed re-tests by number."""

    trial_id: int
    number: int
    values: tuple[float, ...]
    trial_ids: tuple[int, ...]

    @property
    def runs(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def std(self) -> float | None:
        """The sample standard deviation of the values (n - 1); None for a single run."""
        return statistics.stdev(self.values) if self.runs > 1 else None


def leaderboard(runs: Iterable[Run], goal: str) -> list[Group]:
    """The completed trials grouped by setting (a trial and its re-tests; a trial never
    re-tested is a group of one), best mean first for the goal, then by number.

    The first run of a group is the one that made it worth re-testing, so its mean leans
    to the lucky side until its re-tests come in; its `runs` and `std` say how far to
    trust it.
    """
    ordered = sorted(runs, key=lambda run: run.number)
    groups: dict[int, list[Run]] = {run.trial_id: [run] for run in ordered
                                    if run.origin_trial_id is None}
    for run in ordered:
        if run.origin_trial_id is not None and run.origin_trial_id in groups:
            groups[run.origin_trial_id].append(run)
    sign = -1.0 if goal == "maximize" else 1.0
    ranked = [Group(members[0].trial_id, members[0].number,
                    tuple(run.value for run in members), tuple(run.trial_id for run in members))
              for members in groups.values()]
    ranked.sort(key=lambda group: (sign * group.mean, group.number))
    return ranked
