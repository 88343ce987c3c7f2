"""No call waits on the database past CAVIAR_DB_TIMEOUT_SECONDS: each wait ends in an error
answered with a 503 that names the timeout (service.db.session, service.db.outage)."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from service.api.errors import error_answer
from service.db.migrate import upgrade_to_head
from service.db.session import Database, DatabaseBusy
from service.settings import Settings
from tests.support.databases import postgres_database, sqlite_url

TIMEOUT = 0.3


def _sqlite(tmp_path) -> Database:
    db = Database(sqlite_url(tmp_path), timeout_seconds=TIMEOUT)
    upgrade_to_head(db.write_engine)
    return db


def test_the_timeout_is_a_setting_of_four_seconds_by_default():
    assert Settings.from_env({}).db_timeout_seconds == 4.0
    env = {"CAVIAR_DB_TIMEOUT_SECONDS": "0.5"}
    assert Settings.from_env(env).db_timeout_seconds == 0.5


def test_a_write_lock_held_outside_the_server_times_out_as_a_503(tmp_path):
    db = _sqlite(tmp_path)
    holder = sqlite3.connect(db.url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    try:
        with pytest.raises(OperationalError) as raised, db.write_connection() as connection:
            connection.execute(text("UPDATE searches SET name = name"))
    finally:
        holder.rollback()
        holder.close()
        db.dispose()
    assert time.monotonic() - started < TIMEOUT + 2
    status, body = error_answer(raised.value)
    assert status == 503
    assert body["detail"] == ("the database is unavailable: timed out: database is locked "
                              "(CAVIAR_DB_TIMEOUT_SECONDS)")


def test_a_write_turn_held_in_the_process_times_out_as_a_503(tmp_path):
    db = _sqlite(tmp_path)
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        with db.write_connection():
            taken.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    taken.wait(10)
    started = time.monotonic()
    try:
        with pytest.raises(DatabaseBusy) as raised, db.write():
            pass
    finally:
        release.set()
        holder.join()
        db.dispose()
    assert TIMEOUT <= time.monotonic() - started < TIMEOUT + 2
    status, body = error_answer(raised.value)
    assert status == 503 and "timed out" in body["detail"]
    assert "within 0.3 s (CAVIAR_DB_TIMEOUT_SECONDS)" in body["detail"]


def test_no_free_pooled_connection_is_a_503():
    status, body = error_answer(PoolTimeout("QueuePool limit of size 10 overflow 30 reached"))
    assert status == 503 and "CAVIAR_DB_TIMEOUT_SECONDS" in body["detail"]


@pytest.mark.postgres
def test_postgres_connections_carry_the_statement_and_lock_timeouts():
    with postgres_database() as url:
        db = Database(url, timeout_seconds=1.5)
        try:
            for engine in (db.engine, db._relaxed_engine, db.autocommit_engine):
                assert engine is not None
                with engine.connect() as connection:
                    shown = [connection.execute(text(f"SHOW {name}")).scalar()
                             for name in ("statement_timeout", "lock_timeout")]
                assert shown == ["1500ms", "1500ms"]
        finally:
            db.dispose()
