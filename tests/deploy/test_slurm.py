"""deploy/slurm/caviar-workers.sbatch on a one-node Slurm cluster started here.

The array's workers complete a search with the same results as workers started
directly, end on their own when it is done, and `scancel` of a running array task
gives its trials back at once. The server requires tokens: the jobs get a worker
token from the environment, as CAVIAR_TOKEN or as a file named by CAVIAR_TOKEN_FILE.

Needs root and Debian's slurm-wlm and munge (scripts/test installs them); without
them these tests fail, saying so.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from domain.roles import Role
from service.auth.tokens import create_token
from service.db.migrate import upgrade_to_head
from service.db.session import Database
from tests.e2e.helpers import (
    all_trials,
    moons_spec,
    running_mid_way,
    search_status,
    wait_for,
    workers,
)
from tests.support.databases import sqlite_url
from tests.support.processes import Server, live_server
from tests.support.slurm import KILL_WAIT, SlurmCluster, slurm_cluster
from worker.client import CaviarClient

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "slurm" / "caviar-workers.sbatch"
LEASE_SECONDS = 60
RESULTS = ("dev_accuracy", "dev_loss", "train_accuracy", "train_loss", "epochs")


@dataclass
class Secured:
    """A live server that requires tokens, an admin's token and a worker token."""

    server: Server
    admin: str
    worker: str

    @property
    def url(self) -> str:
        return self.server.url

    def client(self) -> CaviarClient:
        return CaviarClient(self.url, token=self.admin)


@pytest.fixture(scope="module")
def cluster() -> Iterator[SlurmCluster]:
    with slurm_cluster() as running:
        yield running


@pytest.fixture(scope="module")
def server(cluster: SlurmCluster, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Secured]:
    """`caviar serve` with CAVIAR_AUTH=required; its tokens are made before it starts."""
    folder = tmp_path_factory.mktemp("slurm-server")
    url = sqlite_url(folder)
    db = Database(url)
    try:
        upgrade_to_head(db.write_engine)
        admin = create_token(db, "admin", Role.ADMIN)[1]
        worker = create_token(db, "slurm-workers", Role.WORKER)[1]
    finally:
        db.dispose()
    env = {"CAVIAR_AUTH": "required", "CAVIAR_LEASE_SECONDS": str(LEASE_SECONDS)}
    with live_server(url, folder, env=env) as running:
        yield Secured(running, admin, worker)


def submit_workers(cluster: SlurmCluster, server: Secured, folder: Path, search_id: int,
                   cpus_per_task: int, token: dict[str, str]) -> int:
    """Submit the array 0-1 of the script, its workers kept on one search; the job id.

    The job gets what a user's shell would pass on: PATH with this environment's `caviar`,
    CAVIAR_SERVER, the `token` variables, and a short --idle-exit so that the tasks end soon
    after the search.
    """
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "CAVIAR_SERVER": server.url, "CAVIAR_IDLE_EXIT": "2",
           "CAVIAR_CACHE_DIR": str(folder / "cache"), **token}
    return cluster.sbatch(SCRIPT, "--search", str(search_id), env=env, options=[
        "--array=0-1", f"--cpus-per-task={cpus_per_task}", f"--chdir={folder}",
        f"--output={folder}/slurm-%A_%a.log"])


def results(trials: list[dict[str, Any]]) -> dict[int, tuple[Any, ...]]:
    """What a search found, by trial number: params, value and final metrics (not timings)."""
    return {t["number"]: (t["params"], t["value"], {k: t["metrics"][k] for k in RESULTS})
            for t in trials}


def job_log(folder: Path, task: str) -> str:
    return (folder / f"slurm-{task}.log").read_text(errors="replace")


def test_the_array_completes_a_search_as_directly_started_workers_do(cluster, server, tmp_path):
    spec = moons_spec("on-slurm", max_trials=8, epochs=4)
    with server.client() as client, workers(tmp_path) as fleet:
        on_slurm = client.create_search(spec)
        direct = client.create_search({**spec, "name": "direct"})
        job = submit_workers(cluster, server, tmp_path, on_slurm["id"], cpus_per_task=1,
                             token={"CAVIAR_TOKEN": server.worker})
        for name in ("direct-a", "direct-b"):
            fleet.start(server.url, "--search", str(direct["id"]), "--worker-id", name,
                        "--idle-exit", "2", env={"CAVIAR_TOKEN": server.worker})
        for search in (on_slurm, direct):
            wait_for(f"search {search['id']} to complete",
                     lambda s=search: search_status(client, s["id"]) == "completed", timeout=90)
        wait_for("the array's tasks to end on their own", lambda: not cluster.active(job),
                 timeout=30)
        tasks = cluster.tasks(job)
        slurm_trials = all_trials(client, on_slurm["id"])
        direct_trials = all_trials(client, direct["id"])
        counts = client.get_search(on_slurm["id"])["counts"]

    assert tasks == {f"{job}_0": "COMPLETED", f"{job}_1": "COMPLETED"}, "each exited 0"
    assert sorted(t["number"] for t in slurm_trials) == list(range(8))
    assert all((t["status"], t["attempt"]) == ("completed", 1) for t in slurm_trials)
    assert counts["completed"] == 8 and counts["running"] == counts["pending"] == 0
    assert all(t["worker_id"].startswith(f"slurm-{job}_") for t in slurm_trials)
    logs = job_log(tmp_path, f"{job}_0") + job_log(tmp_path, f"{job}_1")
    assert logs.count(" finished") == 8, logs
    assert results(slurm_trials) == results(direct_trials)


def test_scancel_gives_the_running_trials_back_at_once(cluster, server, tmp_path):
    # One task at a time, with a worker process on each CPU of the node; trials long
    # enough that every process is still mid-trial when scancel's SIGTERM arrives (30
    # epochs took 0.5 s on a quiet machine, and a trial finished before the signal).
    spec = moons_spec("scancel", max_trials=cluster.cpus, epochs=300, n_samples=2000,
                      batch_size=8, max_parallel=cluster.cpus)
    token_file = tmp_path / "token"
    token_file.touch(mode=0o600)
    token_file.write_text(f"{server.worker}\n")
    with server.client() as client:
        search = client.create_search(spec)
        job = submit_workers(cluster, server, tmp_path, search["id"], cpus_per_task=cluster.cpus,
                             token={"CAVIAR_TOKEN": "", "CAVIAR_TOKEN_FILE": str(token_file)})
        running = wait_for("every worker process of the first task mid-trial",
                           lambda: running_mid_way(client, search["id"], cluster.cpus), timeout=60)
        first = running[0]["worker_id"].split("/")[0].removeprefix("slurm-")
        assert {t["worker_id"].split("/")[0] for t in running} == {f"slurm-{first}"}
        cluster.command("scancel", first)
        cancelled_at = time.monotonic()
        wait_for("the trials given back", lambda: all(
            client.get_trial(t["id"])["attempt"] == 2 for t in running), timeout=15)
        given_back = time.monotonic() - cancelled_at
        wait_for("the cancelled task to end", lambda: first not in cluster.active(job),
                 timeout=KILL_WAIT + 10)
        ended = time.monotonic() - cancelled_at
        wait_for("the search to complete",
                 lambda: search_status(client, search["id"]) == "completed", timeout=90)
        wait_for("the array's tasks to end", lambda: not cluster.active(job), timeout=30)
        tasks = cluster.tasks(job)
        trials = all_trials(client, search["id"])

    assert given_back < 5, f"given back at once, not after the {LEASE_SECONDS} s lease"
    assert ended < KILL_WAIT, "the workers exited on SIGTERM, before Slurm's SIGKILL"
    log = job_log(tmp_path, first)
    assert log.count("given back: worker shutting down") == cluster.cpus, log
    assert log.count("stats:") == cluster.cpus, "every worker process stopped cleanly"
    second = next(task for task in tasks if task != first)
    assert tasks == {first: "CANCELLED", second: "COMPLETED"}
    assert sorted(t["number"] for t in trials) == list(range(cluster.cpus))
    assert all((t["status"], t["attempt"]) == ("completed", 2) for t in trials), "none lost"
    assert {t["worker_id"].split("/")[0] for t in trials} == {f"slurm-{second}"}

