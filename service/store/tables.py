"""The tables as SQLAlchemy Core sees them, and rows to records and back.

The lifecycle's calls run hundreds of times a second, so they skip the ORM:
a row is selected with Core, read into a record of domain.lifecycle, and the
columns that changed are written back (service.store.rows). Statements are
built once, here or by cached functions, and run with bound parameters, since
building one costs more than running it on SQLite.

A search's spec is read as its stored JSON text; its parsed forms (the JSON
dict and the validated SearchSpec) are cached per text for the life of the
process: a stored spec never changes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import fields
from functools import lru_cache
from operator import attrgetter
from typing import Any

from sqlalchemy import ColumnElement, Table, Text, and_, bindparam, cast

from domain.lifecycle.records import SearchRecord, TrialRecord
from domain.lifecycle.states import SearchStatus, StopCause, TrialStatus
from service.db.models import Intermediate, Search, Trial
from service.search.plans import plan_of

SEARCHES: Table = Search.__table__  # type: ignore[assignment]
TRIALS: Table = Trial.__table__  # type: ignore[assignment]
INTERMEDIATE: Table = Intermediate.__table__  # type: ignore[assignment]

_COUNTED = tuple(TrialStatus)
_SEARCH_SCALARS = ("max_trials", "n_trials", "n_retests", "last_seq", "rounds", "best_trial_id",
                   "best_value", "updated_at", "finished_at")
SEARCH_COLUMNS = (
    SEARCHES.c.id, SEARCHES.c.status, cast(SEARCHES.c.spec, Text).label("spec_text"),
    *(SEARCHES.c[f"count_{status}"] for status in _COUNTED),
    *(SEARCHES.c[name] for name in _SEARCH_SCALARS),
)
"""What a search's record is read from, in this order (`search_record`)."""
_SCALARS_AT = 3 + len(_COUNTED)

TRIAL_FIELDS = tuple(field.name for field in fields(TrialRecord))
TRIAL_COLUMNS = tuple(TRIALS.c[name] for name in TRIAL_FIELDS)
"""A trial's columns in the order of TrialRecord's fields (`trial_record`)."""


@lru_cache(maxsize=256)
def spec_json(spec_text: str) -> dict[str, Any]:
    """A stored spec's JSON text, parsed (shared: callers must not change it)."""
    parsed: dict[str, Any] = json.loads(spec_text)
    return parsed


def search_record(values: Sequence[Any]) -> SearchRecord:
    """The record of a search from the values of SEARCH_COLUMNS."""
    search_id, status, spec_text = values[:3]
    counts = dict(zip(_COUNTED, values[3:_SCALARS_AT], strict=True))
    (max_trials, n_trials, n_retests, last_seq, rounds, best_trial_id, best_value, updated_at,
     finished_at) = values[_SCALARS_AT:]
    return SearchRecord(
        id=search_id, status=SearchStatus(status), spec=plan_of(spec_text).spec,
        spec_text=spec_text, max_trials=max_trials, n_trials=n_trials, n_retests=n_retests,
        counts=counts, last_seq=last_seq, rounds=rounds, best_trial_id=best_trial_id,
        best_value=best_value, updated_at=updated_at, finished_at=finished_at,
    )


def trial_record(values: Sequence[Any]) -> TrialRecord:
    """The record of a trial from the values of TRIAL_COLUMNS."""
    trial = TrialRecord(*values)
    trial.status = TrialStatus(trial.status)
    if trial.stop_cause is not None:
        trial.stop_cause = StopCause(trial.stop_cause)
    return trial


SEARCH_WRITABLE = ("status", *(f"count_{status}" for status in _COUNTED), *_SEARCH_SCALARS)
"""The search's columns a record's changes are written to, in the order of `search_values`."""
_search_scalars = attrgetter(*_SEARCH_SCALARS)


def search_values(search: SearchRecord) -> tuple[Any, ...]:
    """The values of the search's SEARCH_WRITABLE columns in the record."""
    counts = search.counts
    return (search.status, *[counts[status] for status in _COUNTED], *_search_scalars(search))


trial_values: Callable[[TrialRecord], tuple[Any, ...]] = attrgetter(*TRIAL_FIELDS)
"""The values of the trial's columns (TRIAL_FIELDS, its id included) in the record."""


def copied(trial: TrialRecord) -> TrialRecord:
    """A copy of the record (its dicts shared: they are replaced, never changed in place)."""
    return TrialRecord(*trial_values(trial))


def lease_ran_out(search_id: ColumnElement[int] | int | None = None) -> ColumnElement[bool]:
    """A running trial (of the search, if given) whose lease ran out before `now` (a
    parameter): the rule of domain.lifecycle.transitions.lease_expired, in SQL, for the
    expiry index."""
    rule = and_(TRIALS.c.status == TrialStatus.RUNNING,
                TRIALS.c.lease_expires_at < bindparam("now"))
    return rule if search_id is None else and_(TRIALS.c.search_id == search_id, rule)
