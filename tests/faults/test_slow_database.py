"""A database that stalls: the test holds a lock on it for longer than the server's timeout.

On SQLite an open `BEGIN IMMEDIATE` holds the write lock; on PostgreSQL (an
instance of the test's own) `LOCK TABLE trials IN ACCESS EXCLUSIVE MODE` in an open
transaction stops every statement on trials. Meanwhile a write call is a 503
naming the timeout (CAVIAR_DB_TIMEOUT_SECONDS) within a few seconds, not a call
left waiting; /healthz answers at once. Once the lock goes, the search goes on
and each trial completes once, on its first attempt (the lease outlasts the stall).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.e2e.helpers import all_trials, search_status, wait_for, workers
from tests.faults.helpers import (
    DB_TIMEOUT,
    EPOCHS,
    fault_env,
    fault_spec,
    stored_trials,
    wait_mid_search,
)
from tests.support.consistency import assert_search_consistent
from tests.support.databases import sqlite_url
from tests.support.postgres_instance import private_postgres
from tests.support.processes import live_server
from worker.client import CaviarClient

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

PROBE_SECONDS = 3 * DB_TIMEOUT  # how long the test asks the server while it holds the lock
LEASE_SECONDS = 30  # longer than the stall: every trial in flight keeps its lease
# A write waits for its turn in the server process, then for the lock: twice the timeout;
# and the first call the stall catches on the event loop holds it up as long once.
ANSWER_WITHIN = 4 * DB_TIMEOUT + 1


@contextmanager
def database_of(kind: str, folder: Path) -> Iterator[str]:
    """A fresh SQLite file, or a private PostgreSQL instance's database."""
    if kind == "sqlite":
        yield sqlite_url(folder)
    else:
        with private_postgres() as postgres:
            yield postgres.url


@contextmanager
def lock_held(url: str) -> Iterator[None]:
    """Hold what every write of trials needs, in an open transaction, for the block."""
    if url.startswith("sqlite"):
        holder = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.rollback()
            holder.close()
        return
    with psycopg.connect(url.replace("+psycopg", "")) as holder:
        holder.execute("LOCK TABLE trials IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            holder.rollback()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_lock_held_past_the_timeout_is_a_503_then_the_search_goes_on(kind, tmp_path):
    with database_of(kind, tmp_path) as url, \
            live_server(url, tmp_path, env=fault_env(LEASE_SECONDS)) as server, \
            workers(tmp_path) as fleet, CaviarClient(server.url) as client:
        search = client.create_search(fault_spec(f"slow-{kind}"))
        pair = [fleet.start(server.url, "--worker-id", f"w{n}") for n in range(2)]
        in_flight = wait_mid_search(client, search["id"])
        heartbeat = f"{server.url}/api/v1/trials/{in_flight['id']}/heartbeat"
        writes, health = [], []
        with lock_held(url):
            held_at = time.monotonic()
            while time.monotonic() - held_at < PROBE_SECONDS:
                writes.append(_timed(lambda: httpx.post(
                    heartbeat, json={"lease_token": "0" * 32}, timeout=30)))
                health.append(_timed(lambda: httpx.get(f"{server.url}/healthz", timeout=30)))
        wait_for("the search to complete",
                 lambda: search_status(client, search["id"]) == "completed", timeout=90)
        trials = all_trials(client, search["id"])
        assert_search_consistent(url, search["id"])
        stored = stored_trials(url, search["id"])
        workers_alive = [w.process.poll() is None for w in pair]

    assert writes and all(r.status_code == 503 for r, _ in writes), _shown(writes)
    detail = writes[0][0].json()["detail"]
    assert "timed out" in detail and "CAVIAR_DB_TIMEOUT_SECONDS" in detail, detail
    assert max(seconds for _, seconds in writes) < ANSWER_WITHIN, _shown(writes)
    assert all(r.status_code in (200, 503) for r, _ in health), _shown(health)
    assert max(seconds for _, seconds in health) < ANSWER_WITHIN, _shown(health)
    assert all(t["attempt"] == 1 for t in trials), [(t["number"], t["attempt"]) for t in trials]
    assert [t["epochs"] for t in stored] == [EPOCHS] * len(stored), "every epoch, once"
    assert "Traceback" not in server.log.read_text()
    assert all(workers_alive)


def _timed(call) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def _shown(answers: list[tuple[httpx.Response, float]]) -> list[tuple[int, str, float]]:
    return [(r.status_code, r.text[:120], round(s, 2)) for r, s in answers]
