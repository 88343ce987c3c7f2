"""Fixtures of the end-to-end tests: a throwaway database of each kind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.databases import database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database, once SQLite and once PostgreSQL."""
    with database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[str]:
    """A fresh SQLite database, for the tests whose subject is not the database."""
    with database("sqlite", tmp_path) as url:
        yield url
