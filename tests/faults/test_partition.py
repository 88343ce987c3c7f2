"""A worker cut off from its server for longer than its lease, then reconnected.

The worker runs in a network namespace of its own, joined to the server's by a veth
pair (tests/support/netns.py); the server listens on the pair's root-side address, not
loopback, so it requires tokens. Mid-trial the link is cut for longer than the lease:
the server requeues the trial and a worker on the server's side completes it. Then the
link comes back: the cut-off worker's late report is refused (409) and changes
nothing, and the worker drops the trial and goes on with the search.
"""

from __future__ import annotations

import re
import signal
from datetime import datetime

import pytest
from sqlalchemy import create_engine, select

from service.store.tables import INTERMEDIATE, TRIALS
from tests.e2e.helpers import (
    all_trials,
    moons_spec,
    running_trial,
    search_status,
    wait_for,
    workers,
)
from tests.support.consistency import assert_search_consistent
from tests.support.databases import sqlite_url
from tests.support.netns import veth_namespace
from tests.support.processes import live_server
from tests.support.tokens import create_token
from worker.client import CaviarClient, LeaseLost

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

LEASE = {"CAVIAR_LEASE_SECONDS": "3", "CAVIAR_HEARTBEAT_SECONDS": "0.5",
         "CAVIAR_REQUEUE_SECONDS": "0.2"}
EPOCHS = 150  # 1,000 moons in batches of 8: about 1 s a trial on a quiet machine. With 30
# (0.2 s) the far worker had sent every report before the link was cut, and only its
# late completion met the 409.


def _lease(database_url: str, trial_id: int) -> tuple[str, datetime, list[datetime]]:
    """The trial's lease token, when its current attempt started, and when each of its
    stored epoch rows was written: read from the database, as no API shows them."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            token, started_at = connection.execute(
                select(TRIALS.c.lease_token, TRIALS.c.started_at)
                .where(TRIALS.c.id == trial_id)).one()
            written = connection.scalars(select(INTERMEDIATE.c.created_at)
                                         .where(INTERMEDIATE.c.trial_id == trial_id)).all()
    finally:
        engine.dispose()
    return token, started_at, list(written)


def _status(client: CaviarClient, trial_id: int, status: str) -> dict | None:
    trial = client.get_trial(trial_id)
    return trial if trial["status"] == status else None


def test_a_worker_cut_off_past_its_lease_is_refused_when_it_comes_back(tmp_path):
    database_url = sqlite_url(tmp_path)
    admin_token = create_token(database_url, "admin", "partition-admin")
    spec = moons_spec("partition", max_trials=3, epochs=EPOCHS, n_samples=1000, batch_size=8,
                      max_parallel=1)
    with veth_namespace() as link, \
            live_server(database_url, tmp_path, env=LEASE, host=link.host_address) as server, \
            workers(tmp_path) as fleet, \
            CaviarClient(server.url, token=admin_token) as client:
        worker_env = {"CAVIAR_TOKEN": client.create_token("partition-workers", "worker")["token"]}
        search = client.create_search(spec)
        far = fleet.start(server.url, "--worker-id", "far", env=worker_env,
                          prefix=link.exec_prefix())
        victim = wait_for("a trial mid-way on the far worker",
                          lambda: running_trial(client, search["id"], 2))
        link.cut()
        stale_token, _, _ = _lease(database_url, victim["id"])
        requeued = wait_for("the server to requeue the cut-off worker's trial",
                            lambda: _status(client, victim["id"], "pending"), timeout=30)
        near = fleet.start(server.url, "--worker-id", "near", "--max-trials", "1",
                           env=worker_env)
        assert near.wait(60) == 0, near.text()
        rescued = client.get_trial(victim["id"])
        assert "lease lost" not in far.text(), "still cut off: it cannot have heard yet"

        link.restore()
        try:
            refused = wait_for("the far worker's late report refused",
                               lambda: re.search(rf"trial {victim['id']}: lease lost \(trial "
                                                 rf"{victim['id']}: the lease token is not the "
                                                 "trial's current one", far.text()), timeout=60)
        except AssertionError as error:
            raise AssertionError(f"{error}; the far worker's log:\n{far.text()}") from None
        wait_for("the search to complete",
                 lambda: search_status(client, search["id"]) == "completed", timeout=60)
        far.signal(signal.SIGTERM)
        assert far.wait(20) == 0, far.text()
        with CaviarClient(server.url, token=worker_env["CAVIAR_TOKEN"]) as late, \
                pytest.raises(LeaseLost, match="the lease token is not the trial's current"):
            late.complete(victim["id"], stale_token, {"dev_accuracy": 1.0})
        after = client.get_trial(victim["id"])
        trials = all_trials(client, search["id"])
        _, started_at, written = _lease(database_url, victim["id"])

    assert requeued["attempt"] == 2 and "lease expired" in requeued["error"]
    assert rescued["status"] == "completed" and rescued["worker_id"] == "near"
    assert after == rescued, "the late calls changed nothing"
    assert [row["epoch"] for row in after["intermediate"]] == list(range(EPOCHS))
    assert len(written) == EPOCHS and min(written) >= started_at, \
        "every epoch row is the second attempt's"
    assert_search_consistent(database_url, search["id"])
    assert [t["status"] for t in trials] == ["completed"] * 3

    far_log, near_log = far.text(), near.text()
    assert refused, far_log
    assert f"trial {victim['id']} finished" in near_log
    assert f"trial {victim['id']} finished" not in far_log
    assert "outcome refused" not in far_log, "it sent no completion for the trial it lost"
    others = [t for t in trials if t["id"] != victim["id"]]
    assert {t["worker_id"] for t in others} == {"far"}, "it went on with the search"
    assert all(f"trial {t['id']} finished" in far_log for t in others), far_log
