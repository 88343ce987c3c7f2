"""Many workers claiming at once over real HTTP (`caviar serve` in a subprocess).

Eight claimer threads each hold up to ten trials, so together they ask for 80
while max_parallel is 50; a poller watches the server's running count. Each
test runs against a server of one process and of two (CAVIAR_WORKERS=2), where
only the database's locks keep claims exact.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.service.helpers import API, make_spec
from tests.support.processes import Server, live_server

TRIALS, PARALLEL, CLAIMERS, HOLD = 500, 50, 8, 10


@pytest.fixture(params=["1", "2"], ids=["1-process", "2-processes"])
def server(database_url: str, tmp_path: Path, request: pytest.FixtureRequest
           ) -> Iterator[Server]:
    """A real `caviar serve` on the test's database, with one or two server processes."""
    with live_server(database_url, tmp_path, env={"CAVIAR_WORKERS": request.param}) as running:
        yield running


def _claimer(url: str, search_id: int | None, name: str, claims: list, lock: threading.Lock,
             errors: list) -> None:
    """Claim (of one search, or of any with search_id None) and complete until no work is left."""
    held: list[dict] = []
    with httpx.Client(base_url=url, timeout=30) as http:
        try:
            while True:
                answer = None
                if len(held) < HOLD:
                    body = {"worker_id": name}
                    if search_id is not None:
                        body["search_id"] = search_id
                    answer = http.post(f"{API}/trials/claim", json=body)
                    assert answer.status_code in (200, 204), answer.text
                    if answer.status_code == 200:
                        assignment = answer.json()
                        held.append(assignment)
                        with lock:
                            claims.append((name, assignment["trial_id"], assignment["number"]))
                        continue
                if held:
                    assignment = held.pop(0)
                    done = http.post(f"{API}/trials/{assignment['trial_id']}/complete", json={
                        "lease_token": assignment["lease_token"],
                        "metrics": {"dev_accuracy": assignment["number"] / TRIALS}})
                    assert done.status_code == 200, done.text
                    continue
                running = http.get(f"{API}/searches", params={"status": "running"}).json()
                if running["total"] == 0:
                    return
                time.sleep(0.01)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(f"{name}: {error!r}")


def _poller(url: str, search_id: int, seen: list, stop: threading.Event) -> None:
    with httpx.Client(base_url=url, timeout=30) as http:
        while not stop.is_set():
            seen.append(http.get(f"{API}/searches/{search_id}").json()["counts"]["running"])
            time.sleep(0.005)


@pytest.mark.e2e
def test_every_trial_is_claimed_once_and_max_parallel_holds(server):
    spec = make_spec(budget={"max_trials": TRIALS, "max_parallel": PARALLEL})
    search = httpx.post(f"{server.url}{API}/searches", json=spec, timeout=30).json()
    claims: list = []
    errors: list = []
    seen: list[int] = []
    lock, stop = threading.Lock(), threading.Event()
    poller = threading.Thread(target=_poller, args=(server.url, search["id"], seen, stop))
    poller.start()
    threads = [threading.Thread(target=_claimer, args=(server.url, search["id"], f"w{i}",
                                                       claims, lock, errors))
               for i in range(CLAIMERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    stop.set()
    poller.join()
    assert not errors, errors
    assert not any(thread.is_alive() for thread in threads)

    assert len(claims) == TRIALS
    assert len({trial_id for _, trial_id, _ in claims}) == TRIALS
    assert sorted(number for _, _, number in claims) == list(range(TRIALS))
    assert max(seen) <= PARALLEL and max(seen) >= PARALLEL - 10, max(seen)

    final = httpx.get(f"{server.url}{API}/searches/{search['id']}", timeout=30).json()
    assert final["status"] == "completed" and final["counts"]["completed"] == TRIALS
    assert final["best_trial"]["number"] == TRIALS - 1
    trials = httpx.get(f"{server.url}{API}/searches/{search['id']}/trials",
                       params={"limit": TRIALS}, timeout=30).json()["items"]
    claimed_by = {trial_id: name for name, trial_id, _ in claims}
    assert all(t["attempt"] == 1 and t["worker_id"] == claimed_by[t["id"]] for t in trials)


@pytest.mark.e2e
def test_claims_without_a_search_spread_over_searches_without_loss(server):
    ids = []
    for index in range(3):
        spec = make_spec(name=f"s{index}", budget={"max_trials": 40, "max_parallel": 20})
        ids.append(httpx.post(f"{server.url}{API}/searches", json=spec, timeout=30).json()["id"])
    claims: list = []
    errors: list = []
    lock = threading.Lock()
    threads = [threading.Thread(target=_claimer, args=(server.url, None, f"w{i}", claims, lock,
                                                       errors))
               for i in range(CLAIMERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert len(claims) == 120 and len({trial_id for _, trial_id, _ in claims}) == 120
    for search_id in ids:
        final = httpx.get(f"{server.url}{API}/searches/{search_id}", timeout=30).json()
        assert final["status"] == "completed" and final["counts"]["completed"] == 40


def _racer(url: str, search_id: int, seed: int, outcomes: list, errors: list) -> None:
    """Claim, report five epochs with pauses that sometimes outlast the lease, complete.

    A trial whose lease ran out gets 409 and is dropped, as a worker drops it.
    """
    rng = random.Random(seed)
    with httpx.Client(base_url=url, timeout=30) as http:
        try:
            while True:
                answer = http.post(f"{API}/trials/claim",
                                   json={"worker_id": f"r{seed}", "search_id": search_id})
                assert answer.status_code in (200, 204), answer.text
                if answer.status_code == 204:
                    search = http.get(f"{API}/searches/{search_id}").json()
                    if search["status"] != "running":
                        return
                    time.sleep(0.02)
                    continue
                assignment = answer.json()
                trial = f"{API}/trials/{assignment['trial_id']}"
                token = assignment["lease_token"]
                for epoch in range(5):
                    time.sleep(rng.choice([0.0, 0.01, 0.05, 0.5]))
                    response = http.post(f"{trial}/report", json={
                        "lease_token": token, "epoch": epoch,
                        "metrics": {"dev_accuracy": rng.random()}})
                    assert response.status_code in (200, 409), response.text
                    if response.status_code == 409:
                        outcomes.append("lost")
                        break
                else:
                    response = http.post(f"{trial}/complete", json={
                        "lease_token": token, "metrics": {"dev_accuracy": rng.random()}})
                    assert response.status_code in (200, 409), response.text
                    outcomes.append("completed" if response.status_code == 200 else "lost")
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(f"racer {seed}: {error!r}")


@pytest.mark.e2e
def test_reports_racing_expiring_leases_never_fail_or_lose_count(database_url, tmp_path):
    """Reports, completes, claims and the sweep requeueing expired leases, all at once:
    no call fails, and every trial is counted once (tests/service/store/test_locking.py
    checks the lock order that keeps such calls from deadlocking)."""
    env = {"CAVIAR_WORKERS": "2", "CAVIAR_LEASE_SECONDS": "0.3",
           "CAVIAR_HEARTBEAT_SECONDS": "0.1", "CAVIAR_REQUEUE_SECONDS": "0.2"}
    with live_server(database_url, tmp_path, env=env) as running:
        spec = make_spec(budget={"max_trials": 40, "max_parallel": 6, "max_attempts": 20})
        search = httpx.post(f"{running.url}{API}/searches", json=spec, timeout=30).json()
        outcomes: list[str] = []
        errors: list[str] = []
        threads = [threading.Thread(target=_racer, args=(running.url, search["id"], seed,
                                                         outcomes, errors))
                   for seed in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=240)
        assert not errors, errors
        assert not any(thread.is_alive() for thread in threads)
        final = httpx.get(f"{running.url}{API}/searches/{search['id']}", timeout=30).json()
    counts = final["counts"]
    assert final["status"] == "completed", final
    assert counts["completed"] + counts["failed"] == 40 and sum(counts.values()) == 40, counts
    assert outcomes.count("completed") == counts["completed"]
    assert "lost" in outcomes  # the race did happen
