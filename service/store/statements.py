"""How the store runs its prebuilt statements: the seam where PostgreSQL's fast path plugs in.

`Statements` is what service.store.rows needs of a connection: the first row
of a statement, all its rows, and a list of writes run in order. `CoreStatements`
does it with SQLAlchemy Core on any database; service.store.postgres.statements
does the same through psycopg's cursor and sends a call's writes as one
statement. The same tests run on both (tests/conftest.py, `database_url`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, Table
from sqlalchemy.sql import Executable
from sqlalchemy.sql.dml import UpdateBase

from domain.lifecycle.records import TrialRecord


@dataclass(frozen=True)
class Write:
    """One write of a call: a statement on a table, its parameters, and the trial it inserts
    (whose id is set once it runs), if it inserts one.

    Parameter names must differ between the writes of one call (PostgreSQL may
    send them as one statement): service.store.rows names them after the table.
    """

    table: Table
    statement: UpdateBase
    params: dict[str, Any]
    inserts: TrialRecord | None = None


class Statements(Protocol):
    """Runs prebuilt statements on one connection (in its transaction, if it has one)."""

    def first(self, statement: Executable, params: dict[str, Any]) -> Sequence[Any] | None:
        """The statement's first row, its columns in order (None if it returned none)."""
        ...

    def all(self, statement: Executable, params: dict[str, Any]) -> list[Sequence[Any]]:
        """Every row the statement returned."""
        ...

    def write(self, writes: list[Write]) -> None:
        """Run the writes in order; set the id of each inserted trial."""
        ...


class CoreStatements:
    """Statements run by SQLAlchemy Core on a Connection: any database."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def first(self, statement: Executable, params: dict[str, Any]) -> Sequence[Any] | None:
        result = self.connection.execute(statement, params)
        return result.first() if result.returns_rows else None

    def all(self, statement: Executable, params: dict[str, Any]) -> list[Sequence[Any]]:
        return list(self.connection.execute(statement, params).all())

    def write(self, writes: list[Write]) -> None:
        for write in writes:
            row = self.first(write.statement, write.params)
            if write.inserts is not None and row is not None:
                write.inserts.id = row[0]
