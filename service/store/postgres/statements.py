"""The store's statements on PostgreSQL: through psycopg's cursor, a call's writes as one
statement.

On PostgreSQL each statement costs a round trip, more than most of the
lifecycle's statements take to run. So `DriverStatements` sends them through
the driver (service.store.postgres.driver), and sends a call's writes together:
writes to different tables go as one statement, all but the last as
data-modifying CTEs, which PostgreSQL runs exactly once each, in one snapshot
(so no two may touch the same row: a table that repeats starts a new
statement); an INSERT whose new id is needed ends its statement, whose result
is the INSERT's.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql import Executable
from sqlalchemy.sql.dml import UpdateBase

from service.store.postgres.driver import Driver, dropping_pool
from service.store.statements import Write


@cache
def _together(statements: tuple[UpdateBase, ...]) -> UpdateBase:
    """One statement doing all: each but the last as a data-modifying CTE."""
    combined = statements[-1]
    for number, statement in enumerate(statements[:-1]):
        combined = combined.add_cte(statement.cte(f"write_{number}"))
    return combined


def _groups(writes: list[Write]) -> list[list[Write]]:
    """The writes in order, cut where a table repeats and after an INSERT whose id is needed."""
    groups: list[list[Write]] = [[]]
    for write in writes:
        if any(write.table is other.table for other in groups[-1]):
            groups.append([])
        groups[-1].append(write)
        if write.inserts is not None:
            groups.append([])
    return [group for group in groups if group]


class DriverStatements:
    """The store's Statements on PostgreSQL (see the module's docstring)."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver

    @classmethod
    def of(cls, connection: Connection) -> DriverStatements:
        """Statements on the pooled connection of a SQLAlchemy Connection, in its transaction."""
        return cls(Driver(connection.connection, connection.dialect,
                          dropping_pool(connection.invalidate, connection.engine)))

    def first(self, statement: Executable, params: dict[str, Any]) -> Sequence[Any] | None:
        rows = self.driver.rows(statement, params, many=False)
        return rows[0] if rows else None

    def all(self, statement: Executable, params: dict[str, Any]) -> list[Sequence[Any]]:
        return self.driver.rows(statement, params, many=True)

    def write(self, writes: list[Write]) -> None:
        for group in _groups(writes):
            statement = _together(tuple(write.statement for write in group))
            row = self.first(statement, {name: value for write in group
                                         for name, value in write.params.items()})
            inserted = group[-1].inserts
            if inserted is not None and row is not None:
                inserted.id = row[0]
