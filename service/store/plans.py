"""A search's parsed spec, space, sampler and early-stopping rule, built once per search.

The stored spec is already validated and never changes, so the parsed form is
cached, keyed by the spec's stored JSON text, for the life of the server process.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import Connection, select

from domain.space import Space
from domain.spec import SearchSpec
from service.db.models import Intermediate, Trial
from service.search.early_stopping import MedianRule, make_early_stopping
from service.search.samplers import Proposal, Sampler, TrialRecord, make_sampler, trial_rng


@dataclass(frozen=True)
class Plan:
    """How one search chooses trials and decides early stops."""

    spec: SearchSpec
    space: Space
    sampler: Sampler
    early_stopping: MedianRule | None


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
    spec_dict = json.loads(spec_text)
    limit = spec_dict["budget"]["max_trials"]
    return build_plan(SearchSpec.model_validate(spec_dict, context={"max_trials_limit": limit}))


class History(Sequence[TrialRecord]):
    """The search's trials so far, as samplers see them, read only if a sampler looks.

    Its length is known without a query (the search counts its trials), so a
    sampler that needs only the count (random, grid, sobol) costs nothing at
    100,000 trials; one that reads the trials (coarse_to_fine) loads them once.
    """

    def __init__(self, connection: Connection, search_id: int, n_trials: int) -> None:
        self._connection = connection
        self._search_id = search_id
        self._length = n_trials
        self._records: list[TrialRecord] | None = None

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int | slice) -> TrialRecord | list[TrialRecord]:  # type: ignore[override]
        return self._load()[index]

    def _load(self) -> list[TrialRecord]:
        if self._records is None:
            rows = self._connection.execute(
                select(Trial.number, Trial.params, Trial.status, Trial.value, Trial.round)
                .where(Trial.search_id == self._search_id)
                .order_by(Trial.number)
            ).all()
            self._records = [
                TrialRecord(number=r.number, params=r.params, status=r.status, value=r.value,
                            round=r.round)
                for r in rows
            ]
        return self._records


def propose(connection: Connection, plan: Plan, search_id: int, n_trials: int) -> Proposal | None:
    """The next trial's params (and round), from the search's history; None when exhausted."""
    rng = trial_rng(plan.spec.sampler.seed, n_trials)
    return plan.sampler.sample(plan.space, History(connection, search_id, n_trials), rng)


def should_stop_early(connection: Connection, plan: Plan, search_id: int, trial_id: int,
                      epoch: int) -> bool:
    """Whether the search's early-stopping rule stops the trial after this epoch.

    This epoch's row must already be written: it counts among the trial's values.
    """
    if plan.early_stopping is None:
        return False
    values = connection.scalars(
        select(Intermediate.value)
        .where(Intermediate.trial_id == trial_id, Intermediate.value.is_not(None))
        .order_by(Intermediate.epoch)
    ).all()
    completed = connection.scalars(
        select(Intermediate.value)
        .join(Trial, Trial.id == Intermediate.trial_id)
        .where(
            Trial.search_id == search_id,
            Trial.status == "completed",
            Intermediate.epoch == epoch,
            Intermediate.value.is_not(None),
        )
    ).all()
    return bool(plan.early_stopping.should_stop(
        epoch, list(values), list(completed), plan.spec.objective.goal
    ))
