"""Cancelling a search mid-way, and a diverging trial among healthy ones."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from tests.e2e.helpers import all_trials, moons_spec, search_status, wait_for, workers
from tests.support.processes import live_server
from worker.client import CaviarClient

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def _two_running(client: CaviarClient, search_id: int) -> list[dict] | None:
    running = client.list_trials(search_id, status="running")["items"]
    ready = [t for t in running if (t.get("last_epoch") or 0) >= 2]
    return ready if len(ready) == 2 else None


def test_cancel_stops_running_trials_within_an_epoch_and_claims_nothing_more(db_url, tmp_path):
    spec = moons_spec("cancel-me", max_trials=20, epochs=40, n_samples=3000, batch_size=4,
                      max_parallel=2)
    with live_server(db_url, tmp_path) as server, workers(tmp_path) as fleet, \
            CaviarClient(server.url) as client:
        search = client.create_search(spec)
        pair = [fleet.start(server.url), fleet.start(server.url)]
        wait_for("two trials mid-way", lambda: _two_running(client, search["id"]))
        cancelled = client.cancel_search(search["id"])
        before = {t["id"]: t["last_epoch"] for t in
                  client.list_trials(search["id"], status="running")["items"]}
        wait_for("no trial running", lambda: client.get_search(
            search["id"])["counts"]["running"] == 0, timeout=30)
        claimed = sum(w.text().count(" claimed") for w in pair)
        time.sleep(1.5)  # the idle workers poll every 0.5 s: give them a few chances
        final = client.get_search(search["id"])
        trials = {t["id"]: client.get_trial(t["id"]) for t in all_trials(client, search["id"])}
        claimed_later = sum(w.text().count(" claimed") for w in pair)

    assert cancelled["status"] == "cancelled" and final["status"] == "cancelled"
    assert final["n_trials"] == cancelled["n_trials"], "no trial created after the cancel"
    assert claimed_later == claimed
    assert final["counts"]["pending"] == 0 and final["counts"]["running"] == 0
    assert before, "trials were running at the cancel"
    cancelled_at = _time(cancelled["finished_at"] or cancelled["updated_at"])
    for trial_id, epoch in before.items():
        stopped = trials[trial_id]
        assert stopped["status"] == "cancelled"
        assert stopped["stop_reason"] == "search cancelled"
        # The answer to the next report says stop; the worker ends with the epoch it is in.
        epoch_seconds = max(row["seconds"] for row in stopped["intermediate"])
        took = (_time(stopped["finished_at"]) - cancelled_at).total_seconds()
        assert took <= 2 * epoch_seconds + 0.5, (took, epoch_seconds)
        # The server's last_epoch lags the engine by the reports still on their way
        # (at most two queued and one in flight).
        assert stopped["last_epoch"] <= epoch + 4, (epoch, stopped["last_epoch"])
        assert stopped["last_epoch"] < 39


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_diverging_trial_fails_with_its_reason_and_the_search_goes_on(db_url, tmp_path):
    spec = moons_spec("diverge", max_trials=4, epochs=5, n_samples=1000, batch_size=64)
    spec["sampler"] = {"kind": "grid"}
    spec["parameters"] = {
        "learning_rate": {"type": "choice", "values": [0.05, 1000.0]},
        "hidden_units": {"type": "choice", "values": [16, 32]},
    }
    spec["fixed"]["optimizer"] = "sgd"
    with live_server(db_url, tmp_path) as server, workers(tmp_path) as fleet, \
            CaviarClient(server.url) as client:
        search = client.create_search(spec)
        worker = fleet.start(server.url)
        wait_for("the search to complete",
                 lambda: search_status(client, search["id"]) == "completed", timeout=60)
        trials = all_trials(client, search["id"])
        final = client.get_search(search["id"])

    failed = [t for t in trials if t["status"] == "failed"]
    completed = [t for t in trials if t["status"] == "completed"]
    assert len(trials) == 4, worker.text()
    assert {t["params"]["learning_rate"] for t in failed} == {1000.0}, (trials, worker.text())
    assert {t["params"]["learning_rate"] for t in completed} == {0.05}
    assert len(failed) == 2 and len(completed) == 2
    for trial in failed:
        assert trial["error"].startswith("diverged at epoch 0"), trial["error"]
        assert trial["attempt"] == 1
    assert final["counts"]["failed"] == 2 and final["counts"]["completed"] == 2
    assert final["best_trial"]["params"]["learning_rate"] == 0.05
    assert worker.text().count(" failed: diverged at epoch") == 2
