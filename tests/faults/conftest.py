"""Fixtures of the fault tests: a throwaway database of each kind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.databases import database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database, once SQLite and once PostgreSQL (a new database on the shared
    cluster: these tests never restart it)."""
    with database(request.param, tmp_path) as url:
        yield url
