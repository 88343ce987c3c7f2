"""A search's parsed spec, space, sampler and early-stopping rule, built once per search;
and its sampler's proposal of the next trial.

The stored spec is already validated and never changes, so the parsed form is
cached, keyed by the spec's stored JSON text, for the life of the server process.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import overload

from domain.space import Space
from domain.spec import SearchSpec, parse_spec
from service.search.early_stopping import MedianRule, make_early_stopping
from service.search.rungs import RungRule
from service.search.samplers import HistoryEntry, Proposal, Sampler, make_sampler, trial_rng


@dataclass(frozen=True)
class Plan:
    """How one search chooses trials and decides early stops."""

    spec: SearchSpec
    space: Space
    sampler: Sampler
    early_stopping: MedianRule | RungRule | None


def build_plan(spec: SearchSpec) -> Plan:
    """The plan of a validated spec."""
    return Plan(
        spec=spec,
        space=Space.from_spec(spec.parameters),
        sampler=make_sampler(spec),
        early_stopping=make_early_stopping(spec),
    )


@lru_cache(maxsize=256)
def plan_of(spec_text: str) -> Plan:
    """The plan of a stored search, from its spec's stored JSON text."""
    return build_plan(parse_spec(json.loads(spec_text), stored=True))


class History(Sequence[HistoryEntry]):
    """The search's trials so far, as samplers see them, loaded only if a sampler looks.

    Its length is known without a query (the search counts its trials), so a
    sampler that needs only the count (random, grid, sobol) costs nothing at
    100,000 trials; one that reads the trials (coarse_to_fine) loads them once.
    """

    def __init__(self, length: int, load: Callable[[], list[HistoryEntry]]) -> None:
        self._length = length
        self._load = load
        self._records: list[HistoryEntry] | None = None

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> HistoryEntry: ...

    @overload
    def __getitem__(self, index: slice) -> list[HistoryEntry]: ...

    def __getitem__(self, index: int | slice) -> HistoryEntry | list[HistoryEntry]:
        if self._records is None:
            self._records = self._load()
        return self._records[index]


def propose(plan: Plan, history: History) -> Proposal | None:
    """The next trial's params (and round), from the search's history; None when exhausted."""
    rng = trial_rng(plan.spec.sampler.seed, len(history))
    return plan.sampler.sample(plan.space, history, rng)
