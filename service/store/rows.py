"""Rows of the worker protocol's hot path, read with SQLAlchemy Core and written back as diffs.

The protocol calls run hundreds of times a second, so they skip the ORM's
Session, object loading and unit of work: a row is read into a `RowState`
(plain attributes, so the bookkeeping of service.store.changes works on it as
on an ORM object), changed in place, and written back as an UPDATE of the
columns that changed. Statements are built once and reused with bound
parameters, since building one and computing its cache key costs more than
running it on SQLite. A search's spec is read as its stored JSON text and
parsed once per text for the life of the process (specs never change).

On PostgreSQL each statement costs a round trip and about 0.1 ms of the
server's CPU in the driver and SQLAlchemy, more than most of these statements
take to run. So a trial is read with its locked search in one statement, and a
call's writes are sent together when it is done deciding (`Writes`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
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
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import UpdateBase

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


@cache
def _sql(statement: Select, dialect: Dialect) -> str:
    return str(statement.compile(dialect=dialect))


def _first(connection: Connection, statement: Select, params: dict[str, int]
           ) -> Sequence[Any] | None:
    """The statement's first row, its columns in order.

    On PostgreSQL it is read through the driver's cursor, skipping SQLAlchemy's
    result handling: psycopg already returns these columns typed as SQLAlchemy
    would (JSON parsed, timestamps naive), while the result handling asks the
    driver for the columns' descriptions, which psycopg builds anew on every
    execution (a few microseconds per column: more CPU than the rest of a
    report's read). A driver error is raised as SQLAlchemy raises it (so a lost
    database is a 503), and a lost connection is dropped from the pool.
    """
    if connection.dialect.name != "postgresql":
        return connection.execute(statement, params).first()
    sql, dbapi = _sql(statement, connection.dialect), connection.dialect.loaded_dbapi
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql, params)
        return cursor.fetchone()
    except dbapi.Error as error:
        lost = connection.dialect.is_disconnect(error, connection.connection.dbapi_connection,
                                                cursor)
        if lost:
            connection.invalidate(error)
        raise DBAPIError.instance(sql, params, error, dbapi.Error, connection_invalidated=lost,
                                  dialect=connection.dialect) from error
    finally:
        cursor.close()


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
    row = _first(connection, _locking(_SEARCH_BY_ID, postgres, skip_locked),
                 {"search_id": search_id})
    return None if row is None else _search_state(row)


def lock_search_of_trial(connection: Connection, trial_id: int, postgres: bool
                         ) -> tuple[RowState, RowState]:
    """The trial and its search (as `lock_search` reads it), both locked, in one statement."""
    statement = _locking(_SEARCH_AND_TRIAL, postgres, False, of=(SEARCHES, TRIALS))
    return _search_and_trial(connection, statement, trial_id)


def read_search_of_trial(connection: Connection, trial_id: int) -> tuple[RowState, RowState]:
    """The trial and its search as `lock_search_of_trial` reads them, without locking either."""
    return _search_and_trial(connection, _SEARCH_AND_TRIAL, trial_id)


def _search_and_trial(connection: Connection, statement: Select, trial_id: int
                      ) -> tuple[RowState, RowState]:
    row = _first(connection, statement, {"trial_id": trial_id})
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


class Writes:
    """The writes of one protocol call, sent together when it is done deciding.

    On PostgreSQL, writes to different tables go as one statement, all but the
    last as data-modifying CTEs (which PostgreSQL runs exactly once each, in
    one snapshot: so no two may touch the same row). SQLite has no
    data-modifying CTEs and runs them one by one. Parameter names must differ
    between the tables' statements: those of `update` are prefixed with the
    table's name.
    """

    def __init__(self) -> None:
        self._parts: list[tuple[Table, UpdateBase, dict[str, Any]]] = []

    def add(self, table: Table, statement: UpdateBase, params: dict[str, Any]) -> None:
        """A statement writing to table, to run with params."""
        self._parts.append((table, statement, params))

    def update(self, table: Table, state: RowState) -> None:
        """An UPDATE of the row's changed columns (nothing if none changed)."""
        values = {name: value for name, value in state.changes().items() if name in table.c}
        if values:
            params = {f"{table.name}_{name}": value for name, value in values.items()}
            params[f"{table.name}_row_id"] = state.id
            self.add(table, _update_of(table, tuple(values)), params)

    def run(self, connection: Connection) -> None:
        """Send the writes in order: on PostgreSQL, one statement per run of distinct tables."""
        parts, self._parts = self._parts, []
        if connection.dialect.name != "postgresql":
            for _, statement, params in parts:
                connection.execute(statement, params)
            return
        group: list[tuple[Table, UpdateBase, dict[str, Any]]] = []
        for part in [*parts, None]:
            if group and (part is None or any(part[0] is table for table, *_ in group)):
                statement = _together(tuple(statement for _, statement, _ in group))
                connection.execute(statement, {name: value for *_, params in group
                                               for name, value in params.items()})
                group = []
            if part is not None:
                group.append(part)


def write_back(connection: Connection, *rows: tuple[Table, RowState],
               after: Writes | None = None) -> None:
    """UPDATE each (table, state) row with its changed columns, after any writes queued in
    `after`; all sent together (see `Writes`)."""
    writes = after or Writes()
    for table, state in rows:
        writes.update(table, state)
    writes.run(connection)


def insert_row(connection: Connection, table: Table, state: RowState) -> None:
    """INSERT the state as a new row (None values left to the column's SQL NULL); set its id."""
    values = {name: value for name, value in vars(state).items()
              if name in table.c and value is not None}
    params = {f"new_{name}": value for name, value in values.items()}
    state.id = connection.scalar(_insert_of(table, tuple(values)), params)
