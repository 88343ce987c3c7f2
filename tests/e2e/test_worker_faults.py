"""The faults a fleet meets: a worker killed or stopped mid-trial, a server restarted."""

from __future__ import annotations

import signal
import socket
import time

import pytest

from tests.e2e.helpers import (
    all_trials,
    moons_spec,
    running_trial,
    search_status,
    wait_for,
    workers,
)
from tests.support.processes import live_server, start_server
from worker.client import CaviarClient

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

# Epochs of some tens of milliseconds: long enough to catch a trial mid-way.
SLOW = {"n_samples": 2000, "batch_size": 8}


def _assert_each_trial_completed_once(trials: list[dict], max_trials: int) -> None:
    assert sorted(t["number"] for t in trials) == list(range(max_trials))
    assert [t["status"] for t in trials] == ["completed"] * max_trials


def test_sigkilled_worker_trial_is_requeued_after_the_lease(db_url, tmp_path):
    lease = {"CAVIAR_LEASE_SECONDS": "3", "CAVIAR_HEARTBEAT_SECONDS": "1",
             "CAVIAR_REQUEUE_SECONDS": "0.5"}
    spec = moons_spec("sigkill", max_trials=2, epochs=25, max_parallel=1)
    spec["dataset"]["options"]["n_samples"] = SLOW["n_samples"]
    spec["fixed"]["batch_size"] = SLOW["batch_size"]
    with live_server(db_url, tmp_path, env=lease) as server, workers(tmp_path) as fleet, \
            CaviarClient(server.url) as client:
        search = client.create_search(spec)
        doomed = fleet.start(server.url, "--worker-id", "doomed")
        victim = wait_for("a trial mid-way", lambda: running_trial(client, search["id"], 2))
        doomed.signal(signal.SIGKILL)
        killed_at = time.monotonic()
        doomed.wait()
        survivor = fleet.start(server.url, "--worker-id", "survivor")
        wait_for("the search to complete",
                 lambda: search_status(client, search["id"]) == "completed", timeout=150)
        trials = all_trials(client, search["id"])
        final = client.get_search(search["id"])

    _assert_each_trial_completed_once(trials, 2)
    requeued = next(t for t in trials if t["id"] == victim["id"])
    assert requeued["attempt"] == 2 and requeued["worker_id"] == "survivor"
    assert all(t["attempt"] == 1 for t in trials if t["id"] != victim["id"])
    assert final["counts"]["completed"] == 2
    assert time.monotonic() - killed_at >= 3, "requeued only once the lease ran out"
    assert survivor.text().count(" finished") == 2


def test_sigterm_gives_the_trial_back_at_once(db_url, tmp_path):
    """A long lease: the trial is back to pending within seconds, not after 60 s."""
    spec = moons_spec("sigterm", max_trials=2, epochs=25, max_parallel=1)
    spec["dataset"]["options"]["n_samples"] = SLOW["n_samples"]
    spec["fixed"]["batch_size"] = SLOW["batch_size"]
    with live_server(db_url, tmp_path, env={"CAVIAR_LEASE_SECONDS": "60"}) as server, \
            workers(tmp_path) as fleet, CaviarClient(server.url) as client:
        search = client.create_search(spec)
        leaving = fleet.start(server.url, "--worker-id", "leaving")
        victim = wait_for("a trial mid-way", lambda: running_trial(client, search["id"], 2))
        leaving.signal(signal.SIGTERM)
        stopped_at = time.monotonic()
        assert leaving.wait(20) == 0
        given_back = wait_for("the trial back in pending",
                              lambda: _with_status(client, victim["id"], "pending"), timeout=10)
        requeue_seconds = time.monotonic() - stopped_at
        fleet.start(server.url, "--worker-id", "next")
        wait_for("the search to complete",
                 lambda: search_status(client, search["id"]) == "completed", timeout=120)
        trials = all_trials(client, search["id"])

    assert requeue_seconds < 10, "well before the 60 s lease"
    assert given_back["attempt"] == 2
    assert "given back" in leaving.text() and "stats:" in leaving.text()
    _assert_each_trial_completed_once(trials, 2)
    finished = next(t for t in trials if t["id"] == victim["id"])
    assert finished["attempt"] == 2 and finished["worker_id"] == "next"


def test_a_second_signal_exits_at_once(tmp_path):
    """The first signal's clean stop waits for a request to a server that never answers;
    the second signal does not wait."""
    with socket.socket() as silent, workers(tmp_path) as fleet:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        worker = fleet.start(f"http://127.0.0.1:{silent.getsockname()[1]}")
        wait_for("the worker to start", lambda: "pulling from" in worker.text(), timeout=30)
        time.sleep(0.5)
        worker.signal(signal.SIGTERM)
        time.sleep(0.5)
        assert worker.process.poll() is None, "the clean stop is still waiting"
        worker.signal(signal.SIGTERM)
        started = time.monotonic()
        code = worker.wait(10)
    assert code == 128 + signal.SIGTERM
    assert time.monotonic() - started < 2


def test_server_restart_mid_search_loses_no_result(db_url, tmp_path):
    spec = moons_spec("restart", max_trials=8, epochs=15, max_parallel=2)
    spec["dataset"]["options"]["n_samples"] = 1000
    spec["fixed"]["batch_size"] = 8
    server = start_server(db_url, tmp_path)
    port = int(server.url.rsplit(":", 1)[1])
    try:
        with workers(tmp_path) as fleet, CaviarClient(server.url) as client:
            search = client.create_search(spec)
            pair = [fleet.start(server.url), fleet.start(server.url)]
            wait_for("a few trials to complete",
                     lambda: client.get_search(search["id"])["counts"]["completed"] >= 2)
            wait_for("trials mid-way", lambda: running_trial(client, search["id"], 1))
            server.stop(signal.SIGKILL)
            time.sleep(3)
            server = start_server(db_url, tmp_path, port=port)
            wait_for("the search to complete",
                     lambda: search_status(client, search["id"]) == "completed", timeout=150)
            trials = all_trials(client, search["id"])
            details = [client.get_trial(t["id"]) for t in trials]
    finally:
        server.stop()

    assert sorted(t["number"] for t in trials) == list(range(8))
    assert all(t["status"] == "completed" for t in trials)
    assert all(len(d["intermediate"]) == 15 for d in details)
    logs = "".join(w.text() for w in pair)
    assert "retrying" in logs


def test_worker_started_before_its_server_waits_then_works(sqlite_db, tmp_path):
    """--idle-exit counts only the server's "no work": the worker outlives a long outage,
    then works, then exits once the server has had no work for that long."""
    from tests.support.processes import free_port

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with workers(tmp_path) as fleet:
        early = fleet.start(url, "--worker-id", "early", "--idle-exit", "2")
        wait_for("the worker to find no server",
                 lambda: "server unavailable, retrying" in early.text(), timeout=30)
        time.sleep(4)
        assert early.process.poll() is None, early.text()
        server = start_server(sqlite_db, tmp_path, port=port)
        try:
            with CaviarClient(url) as client:
                search = client.create_search(moons_spec("early", max_trials=3, epochs=3))
                wait_for("the search to complete",
                         lambda: search_status(client, search["id"]) == "completed", timeout=60)
                trials = all_trials(client, search["id"])
                assert early.wait(30) == 0
        finally:
            server.stop()
    assert {t["worker_id"] for t in trials} == {"early"}
    assert "server answering again" in early.text()
    assert "no work for 2 s; exiting" in early.text()


def _with_status(client: CaviarClient, trial_id: int, status: str) -> dict | None:
    trial = client.get_trial(trial_id)
    return trial if trial["status"] == status else None


def test_heartbeats_keep_a_trial_whose_epochs_outlast_the_lease(sqlite_db, tmp_path):
    """Epochs longer than the lease: only the heartbeats keep the trial leased.

    A lease of 2 s, heartbeats every 0.2 s: ten chances per lease, so that a busy
    machine's slow round trip does not lose it, while an epoch lasts over 2 s.
    """
    lease = {"CAVIAR_LEASE_SECONDS": "2", "CAVIAR_HEARTBEAT_SECONDS": "0.2",
             "CAVIAR_REQUEUE_SECONDS": "0.2"}
    spec = moons_spec("heartbeat", max_trials=1, epochs=1, n_samples=120000, batch_size=1)
    with live_server(sqlite_db, tmp_path, env=lease) as server, workers(tmp_path) as fleet, \
            CaviarClient(server.url) as client:
        search = client.create_search(spec)
        worker = fleet.start(server.url, "--max-trials", "1")
        assert worker.wait(120) == 0
        trial = client.get_trial(all_trials(client, search["id"])[0]["id"])
    assert trial["status"] == "completed" and trial["attempt"] == 1, (trial, worker.text())
    assert min(row["seconds"] for row in trial["intermediate"]) > 2.0
    assert "lease lost" not in worker.text()
