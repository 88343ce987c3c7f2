"""A pool of worker processes, each of its processes sent SIGTERM, as Slurm's scancel does.

Slurm ends a job step by sending SIGTERM to every process of it: the pool's
parent and each of its children. A child then hears of the stop twice (its own
SIGTERM, and the parent's forwarded stop); that must still be one clean stop,
which gives the running trial back, not the "second signal" that exits at once.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.e2e.helpers import moons_spec, running_mid_way, wait_for, workers
from tests.support.processes import child_pids

pytestmark = pytest.mark.timeout(120)

# Between two processes' signals: long enough for a child to act on the first signal it
# gets before the next (two signals at the same instant are one to Python's handler),
# far shorter than a child's clean stop.
SIGNAL_GAP = 0.02


@pytest.mark.parametrize("parent_first", [False, True], ids=["children-first", "parent-first"])
def test_sigterm_to_every_process_of_the_pool_gives_each_trial_back(
        server, client, tmp_path, parent_first):
    # Trials far longer than the test: each is still running when the signals come.
    spec = moons_spec("pool-signals", max_trials=2, epochs=500, n_samples=2000, batch_size=8,
                      max_parallel=2)
    search = client.create_search(spec)
    with workers(tmp_path) as fleet:
        pool = fleet.start(server.url, "--processes", "2", "--search", str(search["id"]))
        running = wait_for("both children mid-trial",
                           lambda: running_mid_way(client, search["id"], 2), timeout=60)
        children = child_pids(pool.process.pid)
        assert len(children) == 2
        step = [pool.process.pid, *children] if parent_first else [*children, pool.process.pid]
        for pid in step:  # one after the other, as Slurm goes through the step's processes
            os.kill(pid, signal.SIGTERM)
            time.sleep(SIGNAL_GAP)
        code = pool.wait(20)
    after = [client.get_trial(trial["id"]) for trial in running]
    client.cancel_search(search["id"])

    assert code == 0, pool.text()
    assert pool.text().count("given back: worker shutting down") == 2, pool.text()
    assert pool.text().count("stats:") == 2, "each child stopped cleanly"
    assert [(t["status"], t["attempt"]) for t in after] == [("pending", 2)] * 2, \
        "given back at once, not left to the lease"
