"""Two `caviar serve` replicas over one PostgreSQL database, four workers spread over them:
every trial runs once, the counters hold, and the `since` cursor reads the same from either
replica, also when a poller alternates between them page by page."""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any

import httpx
import psycopg
import pytest

from domain.roles import Role
from service.auth.guard import CACHE_SECONDS
from service.auth.tokens import create_token
from service.db.migrate import upgrade_to_head
from service.db.session import Database
from tests.e2e.helpers import all_trials, moons_spec, search_status, wait_for, workers
from tests.support.databases import postgres_database
from tests.support.processes import live_servers
from worker.client import CaviarClient

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.timeout(300)]

TRIALS = 16
EPOCHS = 30  # with 6, a quiet machine ran the whole search between two polls of B's workers
PAGE = 3


def walk(clients: Sequence[CaviarClient], search_id: int, cursor: int = 0
         ) -> tuple[list[dict[str, Any]], int]:
    """Page through the changes after `cursor`, PAGE at a time, asking the clients in turn;
    the items in the order received and the last cursor. Each page must start past the
    cursor it was asked with, in increasing `seq`, and end at the cursor it answers."""
    items: list[dict[str, Any]] = []
    turn = 0
    while True:
        page = clients[turn % len(clients)].trials_since(search_id, cursor, limit=PAGE)
        turn += 1
        seqs = [item["seq"] for item in page.items]
        assert all(seq > cursor for seq in seqs), (cursor, seqs)
        assert seqs == sorted(set(seqs)), seqs
        if page.items:
            assert page.cursor == seqs[-1]
        else:
            assert page.cursor == cursor and not page.has_more
        items += page.items
        cursor = page.cursor
        if not page.has_more:
            return items, cursor


def latest(items: list[dict[str, Any]]) -> dict[int, tuple[int, str]]:
    """Each trial's last (seq, status) among the items."""
    return {item["id"]: (item["seq"], item["status"]) for item in items}


def database_recount(url: str, search_id: int) -> tuple[dict[str, int], dict[str, int],
                                                         list[tuple[int, int]]]:
    """The search's stored counters, its trials counted by status, and (trial, epochs
    stored) per trial, read straight from PostgreSQL."""
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        columns = [f"count_{status}" for status in ("pending", "running", "paused",
                                                    "completed", "failed", "pruned",
                                                    "cancelled")]
        stored = conn.execute(f"SELECT {', '.join(columns)} FROM searches WHERE id = %s",
                              (search_id,)).fetchone()
        assert stored is not None
        counters = {name.removeprefix("count_"): value
                    for name, value in zip(columns, stored, strict=True) if value}
        recount = dict(conn.execute("SELECT status, count(*) FROM trials WHERE search_id = %s "
                                    "GROUP BY status", (search_id,)).fetchall())
        epochs = conn.execute(
            "SELECT t.id, count(i.id) FROM trials t LEFT JOIN intermediate i "
            "ON i.trial_id = t.id WHERE t.search_id = %s GROUP BY t.id ORDER BY t.id",
            (search_id,)).fetchall()
    return counters, recount, [(trial_id, count) for trial_id, count in epochs]


def test_two_replicas_share_one_database_and_one_cursor(tmp_path):
    # Room for two trials per worker (each claims its next trial while it reports the
    # last): with 4, server A's two workers could hold every slot and B's find none.
    spec = moons_spec("replicas", max_trials=TRIALS, epochs=EPOCHS, n_samples=600,
                      max_parallel=8)
    with ExitStack() as stack:
        url = stack.enter_context(postgres_database())
        servers = stack.enter_context(live_servers(2, url, tmp_path))
        clients = [stack.enter_context(CaviarClient(server.url)) for server in servers]
        fleet = stack.enter_context(workers(tmp_path))
        for index in range(4):
            fleet.start(servers[index % 2].url, "--worker-id", f"w{index}")
        wait_for("the four workers to ask for work",
                 lambda: all(" pulling from " in worker.text() for worker in fleet.started))
        search = clients[0].create_search(spec)
        search_id = search["id"]

        # A dashboard that asks A and B in turn while the search runs.
        seen: list[dict[str, Any]] = []
        cursor = 0
        deadline = time.monotonic() + 180
        while search_status(clients[1], search_id) != "completed":
            assert time.monotonic() < deadline, "the search did not complete in 180 s"
            items, cursor = walk(clients, search_id, cursor)
            seen += items
            time.sleep(0.05)
        items, cursor = walk(clients[::-1], search_id, cursor)
        seen += items

        final = [all_trials(client, search_id) for client in clients]
        searches = [client.get_search(search_id) for client in clients]
        details = {trial["id"]: [client.get_trial(trial["id"]) for client in clients]
                   for trial in final[0]}
        walks = [walk(order, search_id)[0]
                 for order in ([clients[0]], [clients[1]], clients, clients[::-1])]
        counters, recount, epochs = database_recount(url, search_id)
        fleet.stop_all()
        assert [worker.process.returncode for worker in fleet.started] == [0, 0, 0, 0]
        logs = [worker.text() for worker in fleet.started]
        server_logs = [server.log.read_text() for server in servers]

    # Every trial completed once, on its first attempt, with its epochs stored once.
    trials = final[0]
    assert final[0] == final[1]
    assert sorted(t["number"] for t in trials) == list(range(TRIALS))
    assert all(t["status"] == "completed" and t["attempt"] == 1 for t in trials)
    for by_server in details.values():
        assert by_server[0] == by_server[1]
        assert [row["epoch"] for row in by_server[0]["intermediate"]] == list(range(EPOCHS))
    assert epochs == [(t["id"], EPOCHS) for t in sorted(trials, key=lambda t: t["id"])]
    assert sum(log.count(" claimed") for log in logs) == TRIALS
    assert sum(log.count(" finished") for log in logs) == TRIALS
    # Workers 0 and 2 ask server A, 1 and 3 server B: both replicas handed out trials (a
    # single worker may find none free on a loaded machine, its peers being quicker).
    by_server = [sum(log.count(" claimed") for log in logs[first::2]) for first in (0, 1)]
    assert min(by_server) >= 1, f"claims through A and B: {by_server}"

    # The search's counters are a recount of its trials, on either replica and in SQL.
    assert searches[0]["counts"] == searches[1]["counts"]
    assert {status: n for status, n in searches[0]["counts"].items() if n} == \
        {"completed": TRIALS}
    assert counters == recount == {"completed": TRIALS}
    assert searches[0]["status"] == searches[1]["status"] == "completed"

    # The cursor: the live poller ended on every trial's last change, and a walk from 0
    # sees each trial once, at its last change, whichever replicas it asks.
    expected = {t["id"]: (t["seq"], t["status"]) for t in trials}
    assert latest(seen) == expected
    assert cursor == max(seq for seq, _ in expected.values())
    assert len({(item["id"], item["seq"]) for item in seen}) == len(seen)
    for items in walks:
        assert [item["id"] for item in items] == [item["id"] for item in walks[0]]
        assert latest(items) == expected and len(items) == TRIALS
    assert all("Traceback" not in log and " ERROR" not in log for log in server_logs)
    assert {t["worker_id"] for t in trials} <= {f"w{i}" for i in range(4)}


def make_admin_token(database_url: str) -> str:
    """The first admin token, made on the database (as `caviar token create
    --database-url` does) before the servers start."""
    db = Database(database_url)
    try:
        upgrade_to_head(db.write_engine)
        return create_token(db, "root", Role.ADMIN)[1]
    finally:
        db.dispose()


def whoami_status(server_url: str, token: str) -> int:
    return httpx.get(f"{server_url}/api/v1/whoami",
                     headers={"Authorization": f"Bearer {token}"}).status_code


def test_a_token_revoked_on_one_replica_is_refused_by_the_other_within_5_s(tmp_path):
    with ExitStack() as stack:
        url = stack.enter_context(postgres_database())
        admin = make_admin_token(url)
        servers = stack.enter_context(live_servers(2, url, tmp_path))
        with CaviarClient(servers[0].url, token=admin) as client:
            made = client.create_token("alice-laptop", "user", owner="alice")
            assert [whoami_status(server.url, made["token"]) for server in servers] == [200, 200]
            client.revoke_token(made["id"])
            revoked_at = time.monotonic()
        assert whoami_status(servers[0].url, made["token"]) == 401
        wait_for("the other replica to refuse the revoked token",
                 lambda: whoami_status(servers[1].url, made["token"]) == 401, timeout=10)
        # B's cached caller dates from before the revocation; 2 s for the polls themselves.
        assert time.monotonic() - revoked_at <= CACHE_SECONDS + 2
