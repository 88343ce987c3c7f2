"""Statements sent through the driver's cursor, past SQLAlchemy's execution layer (PostgreSQL).

The worker protocol runs a few statements per call, hundreds of times a
second. Through a SQLAlchemy Connection one short statement costs the server
about 0.17 ms of CPU here (checkout, execution context, result handling);
through a pooled psycopg connection's cursor, about 0.07 ms. The statements
are still built with SQLAlchemy Core, compiled once per dialect; psycopg
returns their columns typed as SQLAlchemy would (JSON parsed, timestamps
naive); parameters are sent as they are, those of JSON columns wrapped as
JSON. A driver error is raised as SQLAlchemy raises it (so a lost database is
a 503), and a lost connection is dropped from its pool.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from psycopg.pq import ExecStatus
from psycopg.types.json import Json
from sqlalchemy import JSON, Engine
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql import Executable

TUPLES_OK = ExecStatus.TUPLES_OK


@cache
def compiled(statement: Executable, dialect: Dialect
             ) -> tuple[str, dict[str, Any], frozenset[str]]:
    """The statement's SQL for the dialect, the values of its literal parameters, and the
    names of its JSON parameters.

    Cached for the life of the process: only statements built once (module
    constants, or built by a cached function) may be run through the driver.
    """
    result = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    literals = {name: value for name, value in result.params.items()
                if not result.binds[name].required}
    json_names = frozenset(name for name, bind in result.binds.items()
                           if isinstance(bind.type, JSON))
    return str(result), literals, json_names


def first_row(raw: PoolProxiedConnection, dialect: Dialect, statement: Executable,
              params: dict[str, Any], invalidate: Callable[[BaseException], None]
              ) -> Sequence[Any] | None:
    """Run the statement on the pooled DBAPI connection; its first row, columns in order
    (None if it returned no row, or returns none).

    JSON parameters are sent as psycopg's `Json`, as SQLAlchemy would serialize
    them. `invalidate` drops the connection from its pool if an error says it is lost.
    """
    sql, literals, json_names = compiled(statement, dialect)
    values = {**literals, **params} if literals else dict(params)
    for name in json_names:
        if values.get(name) is not None:
            values[name] = Json(values[name])
    cursor = raw.cursor()
    try:
        cursor.execute(sql, values)
        returned = cursor.pgresult is not None and cursor.pgresult.status == TUPLES_OK
        return cursor.fetchone() if returned else None
    except dialect.loaded_dbapi.Error as error:
        lost = dialect.is_disconnect(error, raw.dbapi_connection, cursor)
        if lost:
            invalidate(error)
        raise DBAPIError.instance(sql, values, error, dialect.loaded_dbapi.Error,
                                  connection_invalidated=lost, dialect=dialect) from error
    finally:
        cursor.close()


class DriverConnection:
    """A pooled psycopg connection of an autocommit engine: each statement commits alone."""

    def __init__(self, engine: Engine) -> None:
        self.dialect = engine.dialect
        try:
            self._raw = engine.raw_connection()
        except self.dialect.loaded_dbapi.Error as error:  # as SQLAlchemy's connect raises it
            raise DBAPIError.instance(None, None, error, self.dialect.loaded_dbapi.Error,
                                      dialect=self.dialect) from error

    def first(self, statement: Executable, params: dict[str, Any]) -> Sequence[Any] | None:
        """The statement's first row (None if it returned none), its columns in order."""
        return first_row(self._raw, self.dialect, statement, params, self._raw.invalidate)

    def close(self) -> None:
        """Give the connection back to its pool."""
        self._raw.close()
