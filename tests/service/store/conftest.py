"""Fixtures of the store's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from service.db.migrate import upgrade_to_head
from service.db.session import Database
from tests.support.databases import postgres_database


@pytest.fixture
def db() -> Iterator[Database]:
    """The server's database on a fresh PostgreSQL database (test_tables.py has its own, of
    each kind)."""
    with postgres_database() as url:
        database = Database(url)
        upgrade_to_head(database.write_engine)
        yield database
        database.dispose()
