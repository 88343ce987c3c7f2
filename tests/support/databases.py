"""Throwaway databases: a SQLite file, or a fresh PostgreSQL database dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

POSTGRES_ADMIN_URL = os.environ.get(
    "CAVIAR_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)

# The databases of tests that do not touch the lifecycle's store (which tests/conftest.py's
# `database_url` also runs through PostgreSQL's portable path).
STORAGE_KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def sqlite_url(folder: Path) -> str:
    """A SQLite file database inside folder."""
    return f"sqlite:///{folder / f'caviar-{uuid.uuid4().hex[:8]}.db'}"


@contextmanager
def postgres_database() -> Iterator[str]:
    """Create a uniquely named PostgreSQL database, yield its SQLAlchemy URL, drop it."""
    name = f"caviar_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    """A throwaway database of the given kind ("sqlite" or "postgres")."""
    if kind == "sqlite":
        yield sqlite_url(folder)
    elif kind == "postgres":
        with postgres_database() as url:
            yield url
    else:
        raise ValueError(f"unknown database kind {kind!r}: expected sqlite or postgres")
