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
from collections.abc import Sequence
from dataclasses import fields
from functools import lru_cache
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
_SEARCH_SCALARS = ("max_trials", "n_trials", "last_seq", "rounds", "best_trial_id",
                   "best_value", "updated_at", "finished_at")
SEARCH_COLUMNS = (
    SEARCHES.c.id, SEARCHES.c.status, cast(SEARCHES.c.spec, Text).label("spec_text"),
    *(SEARCHES.c[f"count_{status}"] for status in _COUNTED),
    *(SEARCHES.c[name] for name in _SEARCH_SCALARS),
)
"""What a search's record is read from, in this order (`search_record`)."""

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
    spec_text = values[2]
    counted = len(_COUNTED)
    scalars = dict(zip(_SEARCH_SCALARS, values[3 + counted:], strict=True))
    return SearchRecord(
        id=values[0], status=SearchStatus(values[1]), spec=plan_of(spec_text).spec,
        spec_text=spec_text,
        counts=dict(zip(_COUNTED, values[3:3 + counted], strict=True)), **scalars,
    )


def trial_record(values: Sequence[Any]) -> TrialRecord:
    """The record of a trial from the values of TRIAL_COLUMNS."""
    trial = TrialRecord(*values)
    trial.status = TrialStatus(trial.status)
    if trial.stop_cause is not None:
        trial.stop_cause = StopCause(trial.stop_cause)
    return trial


def search_values(search: SearchRecord) -> dict[str, Any]:
    """The search's writable columns and their values in the record."""
    values = {"status": search.status}
    values.update((f"count_{status}", n) for status, n in search.counts.items())
    values.update((name, getattr(search, name)) for name in _SEARCH_SCALARS)
    return values


def trial_values(trial: TrialRecord) -> dict[str, Any]:
    """The trial's columns and their values in the record (its id included)."""
    return {name: getattr(trial, name) for name in TRIAL_FIELDS}


def lease_ran_out(search_id: ColumnElement[int]) -> ColumnElement[bool]:
    """A running trial of the search whose lease ran out before `now` (a parameter): the
    rule of domain.lifecycle.transitions.lease_expired, in SQL, for the expiry index."""
    return and_(TRIALS.c.search_id == search_id, TRIALS.c.status == TrialStatus.RUNNING,
                TRIALS.c.lease_expires_at < bindparam("now"))
