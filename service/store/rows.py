"""Rows of the worker protocol's hot path, read with SQLAlchemy Core and written back as diffs.

The protocol calls run hundreds of times a second, so they skip the ORM's
Session, object loading and unit of work: a row is read into a `RowState`
(plain attributes, so the bookkeeping of service.store.changes works on it as
on an ORM object), changed in place, and written back as an UPDATE of the
columns that changed. Statements are built once and reused with bound
parameters, since building one and computing its cache key costs more than
running it on SQLite. A search's spec is read as its stored JSON text and
parsed once per text for the life of the process (specs never change).

On PostgreSQL each statement costs a round trip, more than most of these
statements take to run. So a trial is read with its locked search in one
statement, a call's writes are sent together when it is done deciding
(`Writes`), and both go through the driver's cursor (`first`, service.db.driver).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    Insert,
    Select,
    Table,
    Text,
    Update,
    and_,
    bindparam,
    cast,
    exists,
    insert,
    select,
    update,
)
from sqlalchemy.sql import ColumnElement, Executable
from sqlalchemy.sql.dml import UpdateBase

from service.db.driver import DriverConnection, first_row
from service.db.models import Intermediate, Search, Trial
from service.errors import NotFound

SEARCHES: Table = Search.__table__  # type: ignore[assignment]
TRIALS: Table = Trial.__table__  # type: ignore[assignment]
INTERMEDIATE: Table = Intermediate.__table__  # type: ignore[assignment]

SEARCH_COLUMNS = (
    SEARCHES.c.id, SEARCHES.c.status, cast(SEARCHES.c.spec, Text).label("spec_text"),
    SEARCHES.c.max_trials, SEARCHES.c.n_trials, SEARCHES.c.count_pending,
    SEARCHES.c.count_running, SEARCHES.c.count_completed, SEARCHES.c.count_failed,
    SEARCHES.c.count_pruned, SEARCHES.c.count_cancelled, SEARCHES.c.last_seq,
    SEARCHES.c.rounds, SEARCHES.c.best_trial_id, SEARCHES.c.best_value, SEARCHES.c.updated_at,
    SEARCHES.c.finished_at,
)
_SEARCH_BY_ID = select(*SEARCH_COLUMNS).where(SEARCHES.c.id == bindparam("search_id"))


def lease_ran_out(search_id: ColumnElement[int]) -> ColumnElement[bool]:
    """Whether a trial is a running one of the search whose lease ran out before `now` (a
    parameter)."""
    return and_(TRIALS.c.search_id == search_id, TRIALS.c.status == "running",
                TRIALS.c.lease_expires_at < bindparam("now"))


_SEARCH_TO_CLAIM = select(
    *SEARCH_COLUMNS,
    exists(select(TRIALS.c.id).where(lease_ran_out(SEARCHES.c.id)).limit(1)).label(
        "lease_expired"),
).where(SEARCHES.c.id == bindparam("search_id"))
_SEARCH_AND_TRIAL = (
    select(*SEARCH_COLUMNS, *TRIALS.c)
    .join_from(SEARCHES, TRIALS, TRIALS.c.search_id == SEARCHES.c.id)
    .where(TRIALS.c.id == bindparam("trial_id"))
)


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
def _locking(statement: Select, postgres: bool, skip_locked: bool,
             of: tuple[Table, ...] = (SEARCHES,)) -> Select:
    """The statement locking its rows of the tables `of`, in that order (PostgreSQL; SQLite: as is).

    PostgreSQL locks the tables of `FOR UPDATE OF` in the order they are named,
    and every writer locks a search before any of its trials, so writers never
    wait for each other in a cycle. A locked row is returned as it is once the
    lock is held, so a trial read with its search is current (columns computed
    from other rows, by subqueries, would not be: they see the rows as they were
    when the statement began, before it waited).
    """
    if not postgres:
        return statement
    return statement.with_for_update(of=list(of), skip_locked=skip_locked)


def first(connection: Connection | DriverConnection, statement: Executable,
          params: dict[str, Any]) -> Sequence[Any] | None:
    """The statement's first row, its columns in order (None if it returned none).

    On PostgreSQL it is read through the driver's cursor (service.db.driver),
    skipping SQLAlchemy's result handling, which asks psycopg for the columns'
    descriptions, built anew on every execution (a few microseconds per column:
    more CPU than the rest of a report's read).
    """
    if isinstance(connection, DriverConnection):
        return connection.first(statement, params)
    if connection.dialect.name != "postgresql":
        result = connection.execute(statement, params)
        return result.first() if result.returns_rows else None
    return first_row(connection.connection, connection.dialect, statement, params,
                     connection.invalidate)


def _search_state(values: Sequence[Any]) -> RowState:
    """A search's RowState from the values of SEARCH_COLUMNS, with its parsed `spec`."""
    state = {column.name: value for column, value in zip(SEARCH_COLUMNS, values, strict=True)}
    state["spec"] = spec_from_text(state["spec_text"])
    return RowState(state)


def lock_search(connection: Connection, search_id: int, postgres: bool,
                skip_locked: bool = False) -> RowState | None:
    """The search, locked for this transaction (None if absent, or locked and skipped).

    Its `spec` attribute is the parsed spec, `spec_text` the stored JSON. On
    SQLite the write transaction itself is the lock (BEGIN IMMEDIATE).
    """
    row = first(connection, _locking(_SEARCH_BY_ID, postgres, skip_locked),
                 {"search_id": search_id})
    return None if row is None else _search_state(row)


def lock_search_to_claim(connection: Connection, search_id: int, postgres: bool,
                         now: datetime, skip_locked: bool = False) -> RowState | None:
    """The search as `lock_search` reads it, and whether a lease of its ran out before now.

    `lease_expired` is a hint, from the rows as they were when the statement
    began (before it waited for the lock): the claim looks again under the lock
    if it is true, and a lease it missed is found by the next claim or the sweep.
    """
    row = first(connection, _locking(_SEARCH_TO_CLAIM, postgres, skip_locked),
                {"search_id": search_id, "now": now})
    if row is None:
        return None
    search = _search_state(row[:-1])
    search.lease_expired = row[-1]
    return search


def lock_search_of_trial(connection: Connection, trial_id: int, postgres: bool
                         ) -> tuple[RowState, RowState]:
    """The trial and its search (as `lock_search` reads it), both locked, in one statement."""
    statement = _locking(_SEARCH_AND_TRIAL, postgres, False, of=(SEARCHES, TRIALS))
    return _search_and_trial(connection, statement, trial_id)


def read_search_of_trial(connection: Connection | DriverConnection, trial_id: int
                         ) -> tuple[RowState, RowState]:
    """The trial and its search as `lock_search_of_trial` reads them, without locking either."""
    return _search_and_trial(connection, _SEARCH_AND_TRIAL, trial_id)


def _search_and_trial(connection: Connection | DriverConnection, statement: Select,
                      trial_id: int) -> tuple[RowState, RowState]:
    row = first(connection, statement, {"trial_id": trial_id})
    if row is None:
        raise NotFound(f"trial {trial_id} not found")
    split = len(SEARCH_COLUMNS)
    trial = RowState({column.name: value
                      for column, value in zip(TRIALS.c, row[split:], strict=True)})
    return _search_state(row[:split]), trial


@cache
def _update_of(table: Table, columns: tuple[str, ...]) -> Update:
    """UPDATE of one row's columns, its parameters named after the table (see `Writes`)."""
    return (update(table).where(table.c.id == bindparam(f"{table.name}_row_id"))
            .values({name: bindparam(f"{table.name}_{name}") for name in columns}))


@cache
def _insert_of(table: Table, columns: tuple[str, ...]) -> Insert:
    return (insert(table).values({name: bindparam(f"new_{name}") for name in columns})
            .returning(table.c.id))


@cache
def _together(statements: tuple[UpdateBase, ...]) -> UpdateBase:
    """One statement doing all: each but the last as a data-modifying CTE (PostgreSQL)."""
    combined = statements[-1]
    for number, statement in enumerate(statements[:-1]):
        combined = combined.add_cte(statement.cte(f"write_{number}"))
    return combined


Part = tuple[Table, UpdateBase, dict[str, Any], RowState | None]


class Writes:
    """The writes of one protocol call, sent together when it is done deciding.

    On PostgreSQL, writes to different tables go as one statement, all but the
    last as data-modifying CTEs (which PostgreSQL runs exactly once each, in
    one snapshot: so no two may touch the same row); an INSERT whose new id is
    needed ends its statement, whose result is the INSERT's. SQLite has no
    data-modifying CTEs and runs them one by one. Parameter names must differ
    between the tables' statements: those of `update` are prefixed with the
    table's name, those of `insert` with "new_".
    """

    def __init__(self) -> None:
        self._parts: list[Part] = []

    def add(self, table: Table, statement: UpdateBase, params: dict[str, Any]) -> None:
        """A statement writing to table, to run with params."""
        self._parts.append((table, statement, params, None))

    def update(self, table: Table, state: RowState) -> None:
        """An UPDATE of the row's changed columns (nothing if none changed)."""
        values = {name: value for name, value in state.changes().items() if name in table.c}
        if values:
            params = {f"{table.name}_{name}": value for name, value in values.items()}
            params[f"{table.name}_row_id"] = state.id
            self.add(table, _update_of(table, tuple(values)), params)

    def insert(self, table: Table, state: RowState) -> None:
        """An INSERT of the state as a new row (None values left to the column's SQL NULL),
        which sets the state's id when it runs."""
        values = {name: value for name, value in vars(state).items()
                  if name in table.c and value is not None}
        params = {f"new_{name}": value for name, value in values.items()}
        self._parts.append((table, _insert_of(table, tuple(values)), params, state))

    def run(self, connection: Connection) -> None:
        """Send the writes in order: on PostgreSQL, as few statements as the rules allow."""
        parts, self._parts = self._parts, []
        postgres = connection.dialect.name == "postgresql"
        for group in _groups(parts) if postgres else [[part] for part in parts]:
            statement = _together(tuple(statement for _, statement, _, _ in group))
            row = first(connection, statement, {name: value for _, _, params, _ in group
                                                for name, value in params.items()})
            inserted = group[-1][3]
            if inserted is not None and row is not None:
                inserted.id = row[0]


def _groups(parts: list[Part]) -> list[list[Part]]:
    """The parts in order, cut where a table repeats and after an INSERT whose id is needed."""
    groups: list[list[Part]] = [[]]
    for part in parts:
        if any(part[0] is other[0] for other in groups[-1]):
            groups.append([])
        groups[-1].append(part)
        if part[3] is not None:
            groups.append([])
    return [group for group in groups if group]


def write_back(connection: Connection, *rows: tuple[Table, RowState],
               after: Writes | None = None) -> None:
    """UPDATE each (table, state) row with its changed columns, after any writes queued in
    `after`; all sent together (see `Writes`)."""
    writes = after or Writes()
    for table, state in rows:
        writes.update(table, state)
    writes.run(connection)
