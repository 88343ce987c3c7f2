"""Fixtures shared by the server's tests: databases of both kinds, in-process and live servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.support.databases import database
from tests.support.processes import Server, live_server

DATABASE_KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=DATABASE_KINDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A throwaway database URL: a SQLite file, then a fresh PostgreSQL database."""
    with database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def make_client(database_url: str) -> Iterator[Callable[..., object]]:
    """A factory of in-process clients (FastAPI TestClient) on the test's database.

    Keyword arguments override Settings fields (for example lease_seconds=0.5).
    """
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import Settings

    with ExitStack() as stack:

        def make(**overrides: object) -> TestClient:
            settings = Settings.from_env({}, database_url=database_url, **overrides)
            client = TestClient(create_app(settings), raise_server_exceptions=False)
            return stack.enter_context(client)

        yield make


@pytest.fixture
def client(make_client: Callable[..., object]) -> object:
    """An in-process client with default settings on the test's database."""
    return make_client()


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    """A real `caviar serve` process on a free port, on the test's database."""
    with live_server(database_url, tmp_path) as running:
        yield running
