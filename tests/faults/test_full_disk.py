"""SQLite on a full disk: writes are a clear 503, reads go on, nothing is lost or broken.

The server's database lives on a 4 MiB tmpfs (tests/support/filesystems.py). Mid-search
a filler file takes the rest of it: every call that writes (a new search, a claim, the
worker's reports and its result) is a 503 naming the reason, never a 500, while reads
still answer. Once the filler is gone the search goes on and ends with every trial
completed once, and the database passes SQLite's integrity check.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.e2e.helpers import (
    all_trials,
    moons_spec,
    running_trial,
    search_status,
    wait_for,
    workers,
)
from tests.support.consistency import assert_search_consistent
from tests.support.filesystems import fill_up, integrity_check, small_tmpfs
from tests.support.processes import live_server
from worker.client import CaviarClient

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

FULL = "database or disk is full"  # SQLite's own words for SQLITE_FULL
TRIALS = 4
EPOCHS = 12


def _refused(send: Callable[[], httpx.Response]) -> httpx.Response | None:
    """The answer if it is a 503; None if the write went through (a write may still fit in
    room SQLite holds already); AssertionError on anything else."""
    answer = send()
    assert answer.status_code in (200, 201, 204, 503), (answer.status_code, answer.text)
    return answer if answer.status_code == 503 else None


def test_sqlite_on_a_full_disk_refuses_writes_with_503_and_recovers(tmp_path):
    with small_tmpfs(tmp_path / "disk", size_mib=4) as disk:
        database_url = f"sqlite:///{disk / 'caviar.db'}"
        with live_server(database_url, tmp_path) as server, workers(tmp_path) as fleet, \
                CaviarClient(server.url) as client, \
                httpx.Client(base_url=f"{server.url}/api/v1", timeout=30) as raw:
            search = client.create_search(moons_spec("full-disk", max_trials=TRIALS,
                                                     epochs=EPOCHS, n_samples=1000,
                                                     batch_size=8, max_parallel=1))
            spare = client.create_search(moons_spec("spare", max_trials=100, epochs=1))
            worker = fleet.start(server.url, "--search", str(search["id"]))
            wait_for("a trial completed and the next mid-way",
                     lambda: client.get_search(search["id"])["counts"]["completed"] >= 1
                     and running_trial(client, search["id"], 1))

            filler = fill_up(disk)
            created = wait_for("a new search refused", lambda: _refused(
                lambda: raw.post("/searches", json=moons_spec("late", 1, 1))))
            claimed = wait_for("a claim refused", lambda: _refused(
                lambda: raw.post("/trials/claim",
                                 json={"worker_id": "probe", "search_id": spare["id"]})))
            wait_for("the worker's writes refused", lambda: FULL in worker.text())
            reads = [raw.get(f"/searches/{search['id']}").status_code,
                     raw.get(f"/searches/{search['id']}/trials").status_code,
                     httpx.get(f"{server.url}/healthz").status_code]
            filler.unlink()

            wait_for("the search to complete",
                     lambda: search_status(client, search["id"]) == "completed", timeout=90)
            trials = all_trials(client, search["id"])
        server_log, worker_log = server.log.read_text(), worker.text()
        assert integrity_check(disk / "caviar.db") == "ok"
        assert_search_consistent(database_url, search["id"])

    for refused in (created, claimed):
        assert refused.json() == {"detail": f"the database is unavailable: {FULL}"}
    assert reads == [200, 200, 200], "reads go on while the disk is full"
    assert f"server error 503: the database is unavailable: {FULL}" in worker_log
    assert "server error 500" not in worker_log
    assert "Traceback" not in server_log, server_log
    assert [(t["status"], t["attempt"]) for t in trials] == [("completed", 1)] * TRIALS
    assert worker_log.count(" finished") == TRIALS
