"""Fixtures of the worker tests: one live server (SQLite) per module, and a client of it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.databases import sqlite_url
from tests.support.processes import Server, live_server
from worker.client import CaviarClient


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("worker-server")
    with live_server(sqlite_url(folder), folder) as running:
        yield running


@pytest.fixture
def client(server: Server) -> Iterator[CaviarClient]:
    with CaviarClient(server.url) as c:
        yield c
