"""Statements sent through psycopg's cursor, past SQLAlchemy's execution layer.

The lifecycle runs a few statements per call, hundreds of times a second.
Through a SQLAlchemy Connection one short statement costs the server about
0.17 ms of CPU here (checkout, execution context, result handling); through a
pooled psycopg connection's cursor, about 0.07 ms. The statements are still
built with SQLAlchemy Core, compiled once per dialect; psycopg returns their
columns typed as SQLAlchemy would (JSON parsed, timestamps naive); parameters
are sent as they are, those of JSON columns wrapped as JSON. A driver error is
raised as SQLAlchemy raises it (so a lost database is a 503), and a lost
connection is dropped with every other of its pool (`dropping_pool`): a database
that lost one (a restart) lost them all, and each would fail a call of its own.
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


class Driver:
    """Runs compiled statements on one pooled psycopg connection (in whatever transaction
    state it is in); `invalidate` drops the connection from its pool when an error says it
    is lost."""

    def __init__(self, raw: PoolProxiedConnection, dialect: Dialect,
                 invalidate: Callable[[BaseException], None]) -> None:
        self.raw = raw
        self.dialect = dialect
        self.invalidate = invalidate

    def rows(self, statement: Executable, params: dict[str, Any], many: bool
             ) -> list[Sequence[Any]]:
        """The statement's rows, columns in order: the first only unless `many` (none if it
        returns none)."""
        sql, literals, json_names = compiled(statement, self.dialect)
        values = {**literals, **params} if literals else dict(params)
        for name in json_names:
            if values.get(name) is not None:
                values[name] = Json(values[name])
        cursor = self.raw.cursor()
        try:
            cursor.execute(sql, values)
            if cursor.pgresult is None or cursor.pgresult.status != TUPLES_OK:
                return []
            if many:
                return list(cursor.fetchall())
            row = cursor.fetchone()
            return [] if row is None else [row]
        except self.dialect.loaded_dbapi.Error as error:
            lost = self.dialect.is_disconnect(error, self.raw.dbapi_connection, cursor)
            if lost:
                self.invalidate(error)
            raise DBAPIError.instance(sql, values, error, self.dialect.loaded_dbapi.Error,
                                      connection_invalidated=lost,
                                      dialect=self.dialect) from error
        finally:
            cursor.close()


def dropping_pool(invalidate: Callable[[BaseException], None], engine: Engine
                  ) -> Callable[[BaseException], None]:
    """A Driver's `invalidate`: drop the lost connection, then every pooled connection of
    the engine (they are replaced as they are next needed), as SQLAlchemy does for the
    statements it runs itself."""
    def lost(error: BaseException) -> None:
        invalidate(error)
        engine.dispose()

    return lost


def autocommit_driver(engine: Engine) -> Driver:
    """A pooled connection of an autocommit engine: each statement commits alone. Give it
    back with `driver.raw.close()`."""
    dialect = engine.dialect
    try:
        raw = engine.raw_connection()
    except dialect.loaded_dbapi.Error as error:  # as SQLAlchemy's connect raises it
        raise DBAPIError.instance(None, None, error, dialect.loaded_dbapi.Error,
                                  dialect=dialect) from error
    return Driver(raw, dialect, dropping_pool(raw.invalidate, engine))
