"""PostgreSQL stopped and started again under a running search: 503s, then on as before.

The test runs a PostgreSQL instance of its own (tests.support.postgres_instance)
so that it can stop it without touching the shared cluster. While it is down,
the server answers 503 with the reason (never a 500) and /healthz says why; the
workers keep their reports and results and retry them; once it is back, the same
server process serves again (its pools test connections before use), and the
search ends with each trial completed once, on its first attempt: the lease
outlasts the outage, so nothing had to run twice.
"""

from __future__ import annotations

import time

import httpx
import pytest

from tests.e2e.helpers import all_trials, search_status, wait_for, workers
from tests.faults.helpers import (
    EPOCHS,
    Probe,
    fault_env,
    fault_spec,
    stored_trials,
    wait_mid_search,
)
from tests.support.consistency import assert_search_consistent
from tests.support.postgres_instance import private_postgres
from tests.support.processes import live_server
from worker.client import CaviarClient

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

OUTAGE_SECONDS = 4.0
LEASE_SECONDS = 30  # longer than the outage: every trial in flight keeps its lease


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_postgres_restarted_mid_search_loses_and_doubles_nothing(mode, tmp_path):
    with private_postgres() as postgres, \
            live_server(postgres.url, tmp_path, env=fault_env(LEASE_SECONDS)) as server, \
            workers(tmp_path) as fleet, CaviarClient(server.url) as client:
        search = client.create_search(fault_spec(f"postgres-{mode}"))
        pair = [fleet.start(server.url, "--worker-id", f"w{n}") for n in range(2)]
        wait_mid_search(client, search["id"])
        probe = Probe(server.url, ("/healthz", f"/api/v1/searches/{search['id']}"))

        postgres.stop(mode)
        down_at = time.monotonic()
        while time.monotonic() - down_at < OUTAGE_SECONDS:
            probe.ask()
            time.sleep(0.2)
        postgres.start()
        back_at = time.monotonic()
        wait_for("/healthz to answer 200 again", lambda: _healthy(server.url), timeout=10)
        recovered = time.monotonic() - back_at
        wait_for("the search to complete",
                 lambda: search_status(client, search["id"]) == "completed", timeout=90)
        trials = all_trials(client, search["id"])
        server_alive = server.process.poll() is None
        workers_alive = [w.process.poll() is None for w in pair]
        assert_search_consistent(postgres.url, search["id"])
        stored = stored_trials(postgres.url, search["id"])

    log = server.log.read_text()
    assert set(probe.statuses("/healthz")) == {503}, probe.answers
    health = probe.of("/healthz", 503)[0].body
    assert health["status"] == "unavailable" and health["database"], health
    read = probe.of(f"/api/v1/searches/{search['id']}", 503)
    assert len(read) == len(probe.statuses(f"/api/v1/searches/{search['id']}")), probe.answers
    assert read[0].body["detail"].startswith("the database is unavailable: "), read[0].body
    assert max(answer.seconds for answer in probe.answers) < 5, "answers came at once"
    assert "Traceback" not in log, log
    assert server_alive and all(workers_alive), "nothing restarted, nothing died"
    assert recovered < 10
    logs = "".join(w.text() for w in pair)
    assert "retrying" in logs, logs
    assert all(t["attempt"] == 1 for t in trials), [(t["number"], t["attempt"]) for t in trials]
    assert [t["epochs"] for t in stored] == [EPOCHS] * len(stored), "every epoch, once"


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
