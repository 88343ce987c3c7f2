"""A SQLite database that cannot grow answers a write with a 503 naming SQLite's reason,
never a 500, and reads as before.

SQLite's own SQLITE_FULL ("database or disk is full") without a full disk: every
connection is capped at the pages the file has now (`PRAGMA max_page_count`), so a
write that needs new pages fails as on a full disk. tests/faults/test_full_disk.py
fills a real file system under a running server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from service.app import create_app
from service.db.session import Database
from service.settings import Settings
from tests.service.helpers import API, create_search
from tests.support.databases import sqlite_url


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(Settings.from_env({}, database_url=sqlite_url(tmp_path)))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _stop_growing(db: Database) -> None:
    """From now on no connection may grow the database past the pages it has."""
    with db.read_connection() as connection:
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar()

    def cap(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    for engine in {db.engine, db.write_engine}:
        event.listen(engine, "connect", cap)
        engine.dispose()  # pooled connections were opened without the cap


def test_a_database_that_cannot_grow_is_a_503_with_the_reason(client):
    search = create_search(client)
    _stop_growing(client.app.state.db)
    rows = "".join(f"{i % 97},{i % 89},{i % 2}\n" for i in range(30_000))  # ~300 kB
    upload = client.post(f"{API}/datasets", files={"file": ("big.csv", f"a,b,label\n{rows}")})
    assert upload.status_code == 503, upload.text
    assert upload.json() == {"detail": "the database is unavailable: database or disk is full"}
    assert client.get(f"{API}/searches/{search['id']}").status_code == 200
    assert client.get(f"{API}/datasets").json()["total"] == 0
