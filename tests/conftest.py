"""Fixtures shared by the server's tests: databases of both kinds, in-process and live servers."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.support.databases import database
from tests.support.processes import Server, live_server

# PostgreSQL twice: through the lifecycle's fast path (service.store.postgres), and through
# the portable store every database can run (CAVIAR_POSTGRES_FAST_PATH=0), so that the
# same tests hold the two to the same behaviour.
DATABASE_KINDS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("postgres-portable", marks=pytest.mark.postgres),
]


@pytest.fixture(params=DATABASE_KINDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A throwaway database URL: a SQLite file, then a fresh PostgreSQL database (twice).

    For `postgres-portable`, CAVIAR_POSTGRES_FAST_PATH=0 is set for the test, so
    that its in-process apps and the servers it starts use the portable store.
    """
    kind = request.param
    if kind == "postgres-portable":
        monkeypatch.setenv("CAVIAR_POSTGRES_FAST_PATH", "0")
    with database(kind.removesuffix("-portable"), tmp_path) as url:
        yield url


@pytest.fixture
def worker_routes(request: pytest.FixtureRequest) -> str:
    """How in-process apps serve the worker protocol: "dispatch" (service.api.dispatch,
    as the server does) or "fastapi" (its FastAPI routes only). A test module asks for
    both with `pytestmark = BOTH_WORKER_ROUTES` (tests.support.worker_routes)."""
    return getattr(request, "param", "dispatch")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The FastAPI worker routes run on SQLite only: they differ from the dispatch in
    routing, not in storage."""
    keep, drop = [], []
    for item in items:
        params = item.callspec.params if hasattr(item, "callspec") else {}
        fastapi_elsewhere = (params.get("worker_routes") == "fastapi"
                             and params.get("database_url", "sqlite") != "sqlite")
        (drop if fastapi_elsewhere else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture
def make_client(database_url: str, worker_routes: str) -> Iterator[Callable[..., object]]:
    """A factory of in-process clients (FastAPI TestClient) on the test's database.

    Keyword arguments override Settings fields (for example lease_seconds=0.5).
    """
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import Settings

    with ExitStack() as stack:

        def make(**overrides: object) -> TestClient:
            env = {name: value for name, value in os.environ.items()
                   if name == "CAVIAR_POSTGRES_FAST_PATH"}
            settings = Settings.from_env(env, database_url=database_url, **overrides)
            app = create_app(settings, fast_worker_routes=worker_routes == "dispatch")
            client = TestClient(app, raise_server_exceptions=False)
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
