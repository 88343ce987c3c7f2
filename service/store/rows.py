"""Rows of the worker protocol's hot path, read with SQLAlchemy Core and written back as diffs.

The protocol calls run hundreds of times a second, so they skip the ORM's
Session, object loading and unit of work: a row is read into a `RowState`
(plain attributes, so the bookkeeping of service.store.changes works on it as
on an ORM object), changed in place, and `write_back` issues one UPDATE of
the columns that changed. Statements are built once and reused with bound
parameters, since building one and computing its cache key costs more than
running it on SQLite. A search's spec is read as its stored JSON text and
parsed once per text for the life of the process (specs never change).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    Insert,
    Select,
    Table,
    Text,
    Update,
    bindparam,
    cast,
    insert,
    select,
    update,
)

from service.db.models import Search, Trial
from service.errors import NotFound

SEARCHES: Table = Search.__table__  # type: ignore[assignment]
TRIALS: Table = Trial.__table__  # type: ignore[assignment]

SEARCH_COLUMNS = (
    SEARCHES.c.id, SEARCHES.c.status, cast(SEARCHES.c.spec, Text).label("spec_text"),
    SEARCHES.c.max_trials, SEARCHES.c.n_trials, SEARCHES.c.count_pending,
    SEARCHES.c.count_running, SEARCHES.c.count_completed, SEARCHES.c.count_failed,
    SEARCHES.c.count_pruned, SEARCHES.c.count_cancelled, SEARCHES.c.last_seq,
    SEARCHES.c.rounds, SEARCHES.c.best_trial_id, SEARCHES.c.updated_at,
    SEARCHES.c.finished_at,
)
_SEARCH_BY_ID = select(*SEARCH_COLUMNS).where(SEARCHES.c.id == bindparam("search_id"))
_SEARCH_OF_TRIAL = select(*SEARCH_COLUMNS).where(
    SEARCHES.c.id == select(TRIALS.c.search_id)
    .where(TRIALS.c.id == bindparam("trial_id")).scalar_subquery()
)
_TRIAL_BY_ID = select(TRIALS).where(TRIALS.c.id == bindparam("trial_id"))


class RowState:
    """One row's values as read; attributes change in place, `changes()` says which did."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.__dict__.update(values)
        self._loaded = dict(values)

    def changes(self) -> dict[str, Any]:
        """The attributes whose value differs from the one read."""
        return {
            name: value for name, value in vars(self).items()
            if name != "_loaded" and (name not in self._loaded or self._loaded[name] != value)
        }


@lru_cache(maxsize=256)
def spec_from_text(spec_text: str) -> dict[str, Any]:
    """A stored spec's JSON text, parsed (shared: callers must not change it)."""
    return json.loads(spec_text)


@cache
def _locking(statement: Select, postgres: bool, skip_locked: bool) -> Select:
    """The statement locking the search row it reads (PostgreSQL; SQLite: as is)."""
    if not postgres:
        return statement
    return statement.with_for_update(of=SEARCHES, skip_locked=skip_locked)


def _search_state(connection: Connection, statement: Select, params: dict[str, int]
                  ) -> RowState | None:
    row = connection.execute(statement, params).first()
    if row is None:
        return None
    values = dict(row._mapping)
    values["spec"] = spec_from_text(values["spec_text"])
    return RowState(values)


def lock_search(connection: Connection, search_id: int, postgres: bool,
                skip_locked: bool = False) -> RowState | None:
    """The search, locked for this transaction (None if absent, or locked and skipped).

    Its `spec` attribute is the parsed spec, `spec_text` the stored JSON. On
    SQLite the write transaction itself is the lock (BEGIN IMMEDIATE).
    """
    statement = _locking(_SEARCH_BY_ID, postgres, skip_locked)
    return _search_state(connection, statement, {"search_id": search_id})


def lock_search_of_trial(connection: Connection, trial_id: int, postgres: bool
                         ) -> tuple[RowState, RowState]:
    """The trial and its search, the search locked first (the one lock order everywhere).

    The trial is read after the lock, so it is current.
    """
    statement = _locking(_SEARCH_OF_TRIAL, postgres, False)
    search = _search_state(connection, statement, {"trial_id": trial_id})
    row = connection.execute(_TRIAL_BY_ID, {"trial_id": trial_id}).first() if search else None
    if search is None or row is None:
        raise NotFound(f"trial {trial_id} not found")
    return search, RowState(row._mapping)


@cache
def _update_of(table: Table, columns: tuple[str, ...]) -> Update:
    return (update(table).where(table.c.id == bindparam("row_id"))
            .values({name: bindparam(f"new_{name}") for name in columns}))


@cache
def _insert_of(table: Table, columns: tuple[str, ...]) -> Insert:
    return (insert(table).values({name: bindparam(f"new_{name}") for name in columns})
            .returning(table.c.id))


def write_back(connection: Connection, table: Table, state: RowState) -> None:
    """UPDATE the row with the state's changed columns (nothing if none changed)."""
    values = {name: value for name, value in state.changes().items() if name in table.c}
    if values:
        params = {f"new_{name}": value for name, value in values.items()}
        connection.execute(_update_of(table, tuple(values)), {"row_id": state.id, **params})


def insert_row(connection: Connection, table: Table, state: RowState) -> None:
    """INSERT the state as a new row (None values left to the column's SQL NULL); set its id."""
    values = {name: value for name, value in vars(state).items()
              if name in table.c and value is not None}
    params = {f"new_{name}": value for name, value in values.items()}
    state.id = connection.scalar(_insert_of(table, tuple(values)), params)
