"""`caviar worker`: processes, worker ids, one BLAS thread each, --max-trials, --idle-exit."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.helpers import all_trials, moons_spec, running_trial, wait_for, workers
from tests.support.databases import sqlite_url
from tests.support.processes import Server, child_pids, live_server
from worker.client import CaviarClient

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("worker-cli-server")
    with live_server(sqlite_url(folder), folder) as running:
        yield running


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def _threads(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("Threads:"))
               .split()[1])


def test_n_processes_each_with_one_blas_thread_and_their_own_id(server, tmp_path):
    spec = moons_spec("pool", max_trials=8, epochs=40, n_samples=2000, batch_size=8,
                      max_parallel=2)
    with workers(tmp_path) as fleet, CaviarClient(server.url) as client:
        pool = fleet.start(server.url, "--processes", "2", "--worker-id", "pool")
        search = client.create_search(spec)
        wait_for("two trials running", lambda: len(
            client.list_trials(search["id"], status="running")["items"]) == 2)
        children = child_pids(pool.process.pid)
        assert len(children) == 2
        for child in children:
            env = _environ(child)
            assert env["OPENBLAS_NUM_THREADS"] == env["OMP_NUM_THREADS"] == "1"
            assert env["MKL_NUM_THREADS"] == "1"
            assert _threads(child) <= 2, "main and the lease thread; no BLAS threads"
        running = client.list_trials(search["id"], status="running")["items"]
        assert {t["worker_id"] for t in running} == {"pool/0", "pool/1"}
        pool.signal(signal.SIGTERM)
        assert pool.wait(30) == 0
        for child in children:
            assert not Path(f"/proc/{child}").exists() or "zombie" in \
                Path(f"/proc/{child}/status").read_text()
        back = client.list_trials(search["id"])["items"]
    assert all(t["status"] in ("pending", "completed") for t in back)
    assert "given back" in pool.text()


def test_max_trials_and_idle_exit(server, tmp_path):
    with workers(tmp_path) as fleet, CaviarClient(server.url) as client:
        search = client.create_search(moons_spec("max-trials", max_trials=3, epochs=2))
        capped = fleet.start(server.url, "--search", str(search["id"]), "--max-trials", "2")
        assert capped.wait(60) == 0
        assert capped.text().count(" finished") == 2
        idle = fleet.start(server.url, "--search", str(search["id"]), "--idle-exit", "1")
        started = time.monotonic()
        assert idle.wait(60) == 0
        assert idle.text().count(" finished") == 1
        assert "no work for 1 s; exiting" in idle.text()
        assert time.monotonic() - started < 30
        trials = all_trials(client, search["id"])
    assert [t["status"] for t in trials] == ["completed"] * 3


def test_verbose_logs_every_epoch(server, tmp_path):
    with workers(tmp_path) as fleet, CaviarClient(server.url) as client:
        search = client.create_search(moons_spec("verbose", max_trials=1, epochs=3))
        chatty = fleet.start(server.url, "--search", str(search["id"]), "--max-trials", "1",
                             "--verbose")
        assert chatty.wait(60) == 0
    lines = chatty.text().splitlines()
    assert sum(" epoch " in line for line in lines) == 3
    assert any("epoch 2: dev_accuracy" in line for line in lines)


def test_sigint_mid_trial_is_a_clean_stop_too(server, tmp_path):
    spec = moons_spec("sigint", max_trials=1, epochs=200, n_samples=2000, batch_size=8)
    with workers(tmp_path) as fleet, CaviarClient(server.url) as client:
        search = client.create_search(spec)
        worker = fleet.start(server.url, "--search", str(search["id"]))
        trial = wait_for("a trial mid-way", lambda: running_trial(client, search["id"], 1))
        worker.signal(signal.SIGINT)
        assert worker.wait(20) == 0
        back = client.get_trial(trial["id"])
    assert back["status"] == "pending" and back["attempt"] == 2


def test_worker_processes_stop_when_their_pool_process_dies(server, tmp_path):
    spec = moons_spec("orphans", max_trials=2, epochs=200, n_samples=2000, batch_size=8,
                      max_parallel=2)
    with workers(tmp_path) as fleet, CaviarClient(server.url) as client:
        search = client.create_search(spec)
        pool = fleet.start(server.url, "--processes", "2", "--search", str(search["id"]))
        wait_for("two trials running", lambda: len(
            client.list_trials(search["id"], status="running")["items"]) == 2)
        children = child_pids(pool.process.pid)
        pool.signal(signal.SIGKILL)
        pool.wait()
        wait_for("the orphaned workers to exit", lambda: not any(
            Path(f"/proc/{child}").exists() for child in children), timeout=30)
        trials = client.list_trials(search["id"])["items"]
    assert [t["status"] for t in trials] == ["pending", "pending"]
    assert [t["attempt"] for t in trials] == [2, 2]
