"""The server SIGKILLed mid-search and started again on the same port and database.

The workers ride out the refused connections, keeping their reports and results.
The server stays down longer than a lease, so the trials in flight when it died
have lost theirs: the new server takes them back before it serves anyone, their
workers hear 409 and drop them, and they run again (attempt 2). Each trial still
completes once, and the search's counts equal a recount of its rows.
"""

from __future__ import annotations

import signal
import time

import pytest

from tests.e2e.helpers import search_status, wait_for, workers
from tests.faults.helpers import EPOCHS, fault_env, fault_spec, stored_trials, wait_mid_search
from tests.support.consistency import assert_search_consistent
from tests.support.processes import start_server
from worker.client import CaviarClient

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

LEASE_SECONDS = 3
DOWN_SECONDS = LEASE_SECONDS + 2


def test_server_sigkilled_mid_search_requeues_expired_leases(db_url, tmp_path):
    env = fault_env(LEASE_SECONDS)
    server = start_server(db_url, tmp_path, env=env)
    port = int(server.url.rsplit(":", 1)[1])
    try:
        with workers(tmp_path) as fleet, CaviarClient(server.url) as client:
            search = client.create_search(fault_spec("server-killed"))
            pair = [fleet.start(server.url, "--worker-id", f"w{n}") for n in range(2)]
            wait_mid_search(client, search["id"])
            server.stop(signal.SIGKILL)
            in_flight = {t["id"] for t in stored_trials(db_url, search["id"])
                         if t["status"] == "running"}
            time.sleep(DOWN_SECONDS)
            server = start_server(db_url, tmp_path, port=port, env=env)
            wait_for("the search to complete",
                     lambda: search_status(client, search["id"]) == "completed", timeout=90)
            workers_alive = [w.process.poll() is None for w in pair]
    finally:
        server.stop()

    assert_search_consistent(db_url, search["id"])
    stored = stored_trials(db_url, search["id"])
    assert in_flight, "a trial was in flight when the server died"
    attempts = {t["id"]: t["attempt"] for t in stored}
    assert all(attempts[trial_id] == 2 for trial_id in in_flight), (in_flight, attempts)
    assert all(n == 1 for trial_id, n in attempts.items() if trial_id not in in_flight)
    assert [t["epochs"] for t in stored] == [EPOCHS] * len(stored), "every epoch, once"
    assert all(workers_alive)
    logs = "".join(w.text() for w in pair)
    assert "retrying" in logs and "lease lost" in logs, logs
    assert "Traceback" not in server.log.read_text()
