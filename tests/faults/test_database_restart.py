"""PostgreSQL stopped and started again under a running search: 503s, then on as before.

The test runs a PostgreSQL instance of its own (tests.support.postgres_instance)
so that it can stop it without touching the shared cluster. While it is down,
the server answers 503 with the reason (never a 500) and /healthz says why; the
workers keep their reports and results and retry them; once it is back, the same
server process serves again (a lost connection replaces its whole pool), and the
search ends with each trial completed once, on its first attempt: the lease
outlasts the outage, so nothing had to run twice.

Stopped cleanly (`-m fast`), PostgreSQL loses nothing it acknowledged. Crashed
(`-m immediate`), it may lose the reports of the last fraction of a second, which
are committed without waiting for the disk: the trials then in flight may lack
those epochs' rows (their results and everything else are there).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.helpers import search_status, wait_for, workers
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


@dataclass
class Outage:
    """What a test saw of a PostgreSQL outage mid-search, and the rows it left."""

    probe: Probe
    recovered_seconds: float
    in_flight: set[int]
    stored: list[dict[str, Any]]
    counts: dict[str, int]
    alive: bool
    server_log: str
    worker_logs: str


def _outage_mid_search(mode: str, folder: Path,
                       check: Callable[[str, int], None] | None = None) -> Outage:
    """Run a search on a private PostgreSQL, stop it (`mode`) mid-search for OUTAGE_SECONDS
    while asking the server, start it again, let the search complete; `check` the database
    at the end, before it goes."""
    with private_postgres() as postgres, \
            live_server(postgres.url, folder, env=fault_env(LEASE_SECONDS)) as server, \
            workers(folder) as fleet, CaviarClient(server.url) as client:
        search = client.create_search(fault_spec(f"postgres-{mode}"))
        pair = [fleet.start(server.url, "--worker-id", f"w{n}") for n in range(2)]
        wait_mid_search(client, search["id"])
        probe = Probe(server.url, ("/healthz", f"/api/v1/searches/{search['id']}"))
        in_flight = {t["number"] for t in stored_trials(postgres.url, search["id"])
                     if t["status"] == "running"}
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
        if check is not None:
            check(postgres.url, search["id"])
        alive = server.process.poll() is None and all(w.process.poll() is None for w in pair)
        return Outage(probe, recovered, in_flight, stored_trials(postgres.url, search["id"]),
                      client.get_search(search["id"])["counts"], alive,
                      server.log.read_text(), "".join(w.text() for w in pair))


def _assert_served_through(outage: Outage) -> None:
    """503s with a JSON reason, at once, while it was down; recovered without a restart;
    the workers retried; no traceback; every trial completed once, on its first attempt."""
    probe = outage.probe
    assert set(probe.statuses("/healthz")) == {503}, probe.answers
    health = probe.of("/healthz", 503)[0].body
    assert health["status"] == "unavailable" and health["database"], health
    search_path = probe.paths[1]
    read = probe.of(search_path, 503)
    assert len(read) == len(probe.statuses(search_path)), probe.answers
    assert read[0].body["detail"].startswith("the database is unavailable: "), read[0].body
    assert max(answer.seconds for answer in probe.answers) < 5, "answers came at once"
    assert "Traceback" not in outage.server_log, outage.server_log
    assert outage.alive, "nothing restarted, nothing died"
    assert outage.recovered_seconds < 10
    assert "retrying" in outage.worker_logs, outage.worker_logs
    assert [(t["status"], t["attempt"]) for t in outage.stored] == \
        [("completed", 1)] * len(outage.stored), outage.stored


def test_postgres_stopped_mid_search_loses_and_doubles_nothing(tmp_path):
    """A clean stop (`-m fast`): every report acknowledged is on disk."""
    outage = _outage_mid_search("fast", tmp_path, check=assert_search_consistent)
    _assert_served_through(outage)
    assert [t["epochs"] for t in outage.stored] == [EPOCHS] * len(outage.stored)


def test_postgres_crashed_mid_search_loses_only_unflushed_reports(tmp_path):
    """A crash (`-m immediate`): reports are committed with synchronous_commit=off, so the
    last fraction of a second of them may be gone (docs/deploy.md, "Durability"), and the
    trials in flight may lack those epoch rows; nothing else is lost or doubled."""
    outage = _outage_mid_search("immediate", tmp_path)
    _assert_served_through(outage)
    short = {t["number"] for t in outage.stored if t["epochs"] != EPOCHS}
    assert short <= outage.in_flight, (short, outage.in_flight)
    assert all(0 < t["epochs"] <= EPOCHS for t in outage.stored), outage.stored
    tally = Counter(t["status"] for t in outage.stored)
    assert outage.counts == {status: tally.get(status, 0) for status in outage.counts}


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
