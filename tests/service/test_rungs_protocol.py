"""ASHA and Hyperband through the worker protocol (HTTP, a real database): rung values and
decisions at report, pause with a checkpoint, promotion at claim, the end of the budget."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from domain.lifecycle.states import SearchStatus, StopCause, TrialStatus
from tests.service.helpers import API, call, claim, create_search, get_search, report


def asha(eta: int = 2, resume: bool = True, max_trials: int = 6, **rule: Any) -> dict:
    return {"early_stopping": {"kind": "asha", "eta": eta, "min_epochs": 1, "resume": resume,
                               **rule},
            "budget": {"max_trials": max_trials, "max_parallel": 6, "max_attempts": 2}}


def upload(client, assignment: dict, epoch: int, data: bytes, sha256: str | None = None):
    return client.put(f"{API}/trials/{assignment['trial_id']}/checkpoint",
                      params={"lease_token": assignment["lease_token"], "epoch": epoch,
                              "sha256": sha256 or hashlib.sha256(data).hexdigest()},
                      content=data, headers={"content-type": "application/octet-stream"})


def trial(client, assignment: dict) -> dict:
    return client.get(f"{API}/trials/{assignment['trial_id']}").json()


def test_asha_stops_below_the_rungs_top_and_shows_the_rung(client):
    search = create_search(client, **asha(eta=2, resume=False))
    a, b = claim(client, search["id"]), claim(client, search["id"])
    assert report(client, a, 0, 0.5)["action"] == "continue"  # alone: the best so far
    told = report(client, b, 0, 0.4)  # 1 of 2 beats it: not in the top 1
    assert told["action"] == "stop" and told["reason"] == StopCause.ASHA_RULE.reason
    assert trial(client, b)["rung"] == 0 and trial(client, a)["rung"] == 0
    assert trial(client, b)["bracket"] == 0
    assert report(client, a, 1, 0.6)["action"] == "continue"  # rung 1 is at 2 epochs
    assert report(client, a, 2, 0.6)["action"] == "continue"  # alone at rung 1
    done = call(client, b, "complete", metrics={"dev_accuracy": 0.4}).json()
    assert done["status"] == TrialStatus.PRUNED and done["stop_cause"] == StopCause.ASHA_RULE


def test_a_paused_trial_is_promoted_with_its_checkpoint_once_it_rises(client):
    search = create_search(client, **asha(eta=2, resume=True))
    sid = search["id"]
    a, b, c, d = (claim(client, sid) for _ in range(4))
    assert report(client, a, 0, 0.5)["action"] == "continue"
    told = report(client, b, 0, 0.4)
    assert told["action"] == "pause"
    assert call(client, b, "heartbeat").json()["action"] == "pause"  # told again
    data = b"weights, optimizer state, random state"
    assert upload(client, b, 0, data).status_code == 422  # it reported 1 epoch, not 0
    bad = upload(client, b, 1, data, sha256="0" * 64)
    assert bad.status_code == 422 and "sha256" in bad.text
    paused = upload(client, b, 1, data)
    assert paused.status_code == 200, paused.text
    assert paused.json()["status"] == TrialStatus.PAUSED
    assert paused.json()["checkpoint_epoch"] == 1
    assert get_search(client, sid)["counts"][TrialStatus.PAUSED] == 1
    assert call(client, b, "report", epoch=1, metrics={"dev_accuracy": 0.5}).status_code == 409
    assert report(client, c, 0, 0.1)["action"] == "pause"  # 2 of 3 beat it
    assert report(client, d, 0, 0.1)["action"] == "pause"  # 4 values: the top 2 go on
    for worse in (c, d):  # their checkpoints are refused (say): they fail instead
        assert call(client, worse, "fail", error="checkpoint refused").json()["status"] == (
            TrialStatus.FAILED)
    promoted = claim(client, sid, worker_id="w/2")
    assert promoted["trial_id"] == b["trial_id"] and promoted["lease_token"] != b["lease_token"]
    assert promoted["resume"] == {
        "epoch": 1, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
        "url": f"/api/v1/trials/{b['trial_id']}/checkpoint"}
    got = client.get(promoted["resume"]["url"], params={"lease_token": promoted["lease_token"]})
    assert got.status_code == 200 and got.content == data
    assert got.headers["x-caviar-epoch"] == "1"
    stale = client.get(promoted["resume"]["url"], params={"lease_token": b["lease_token"]})
    assert stale.status_code == 409
    assert report(client, promoted, 1, 0.7)["action"] == "continue"
    entries = client.get(f"{API}/searches/{sid}/trials").json()["items"]
    assert {t["id"]: t["status"] for t in entries}[b["trial_id"]] == TrialStatus.RUNNING


def test_paused_trials_end_pruned_when_the_budget_is_spent(client):
    search = create_search(client, **asha(eta=2, resume=True, max_trials=2))
    sid = search["id"]
    a, b = claim(client, sid), claim(client, sid)
    report(client, a, 0, 0.5)
    assert report(client, b, 0, 0.4)["action"] == "pause"
    assert upload(client, b, 1, b"state").status_code == 200
    for epoch in range(1, 5):
        report(client, a, epoch, 0.6)
    call(client, a, "complete", metrics={"dev_accuracy": 0.6})
    assert claim(client, sid) is None  # nothing can lift the paused trial: it ends
    ended = trial(client, b)
    assert ended["status"] == TrialStatus.PRUNED
    assert ended["stop_cause"] == StopCause.BUDGET_SPENT and ended["checkpoint_epoch"] is None
    assert get_search(client, sid)["status"] == SearchStatus.COMPLETED


def test_a_trial_told_to_pause_that_loses_its_worker_starts_again(client):
    search = create_search(client, **asha(eta=2, resume=True))
    sid = search["id"]
    a, b = claim(client, sid), claim(client, sid)
    report(client, a, 0, 0.5)
    assert report(client, b, 0, 0.4)["action"] == "pause"
    given_back = call(client, b, "fail", error="killed while uploading", retry=True).json()
    assert given_back["status"] == TrialStatus.PENDING and given_back["rung"] is None
    assert given_back["last_epoch"] is None and given_back["stop_cause"] is None
    again = claim(client, sid)
    assert again["trial_id"] == b["trial_id"] and again["resume"] is None
    assert report(client, again, 0, 0.55)["action"] == "continue"  # judged afresh


def test_a_checkpoint_over_the_limit_is_refused_before_it_is_stored(make_client):
    client = make_client(max_checkpoint_bytes=16)
    search = create_search(client, **asha(eta=2, resume=True))
    a, b = claim(client, search["id"]), claim(client, search["id"])
    report(client, a, 0, 0.5)
    report(client, b, 0, 0.4)
    refused = upload(client, b, 1, b"x" * 17)
    assert refused.status_code == 413 and "CAVIAR_MAX_CHECKPOINT_BYTES" in refused.json()["detail"]
    assert trial(client, b)["status"] == TrialStatus.RUNNING


@pytest.mark.parametrize("kind", ["asha", "hyperband"])
def test_rung_values_feed_the_search_to_its_end(client, kind):
    search = create_search(client, early_stopping={"kind": kind, "eta": 3, "min_epochs": 1},
                           budget={"max_trials": 12, "max_parallel": 12, "max_attempts": 2},
                           fixed={"optimizer": "adam", "epochs": 9})
    sid = search["id"]
    brackets = set()
    for index in range(12):
        assignment = claim(client, sid)
        brackets.add(trial(client, assignment)["bracket"])
        for epoch in range(9):
            told = report(client, assignment, epoch, 0.1 + 0.05 * ((index * 7) % 12))
            if told["action"] == "stop":
                break
        call(client, assignment, "complete", metrics={"dev_accuracy": 0.5})
    final = get_search(client, sid)
    assert final["status"] == SearchStatus.COMPLETED
    assert final["counts"][TrialStatus.PRUNED] > 0
    assert brackets == ({0} if kind == "asha" else {0, 1, 2})


def test_the_budgets_last_pause_leaves_a_risen_trial_to_be_resumed(client):
    """The last trial pauses with the budget spent; a paused trial it lifted into its rung's
    top is resumed by the next claim, not ended with the rest."""
    search = create_search(client, early_stopping={"kind": "asha", "eta": 3, "resume": True},
                           budget={"max_trials": 6, "max_parallel": 1},
                           fixed={"optimizer": "adam", "epochs": 9})
    sid = search["id"]
    first = claim(client, sid)
    for epoch in range(9):
        report(client, first, epoch, 0.9)
    call(client, first, "complete", metrics={"dev_accuracy": 0.9})
    paused = []
    for value in (0.85, 0.5, 0.5, 0.5, 0.5):
        assignment = claim(client, sid)
        assert assignment["resume"] is None and assignment["decide_at"] == [1, 3]
        assert report(client, assignment, 0, value)["action"] == "pause"
        assert upload(client, assignment, 1, b"state").status_code == 200
        paused.append(assignment)
    promoted = claim(client, sid)  # six values at rung 0: the top 2 are 0.9 and 0.85
    assert promoted["trial_id"] == paused[0]["trial_id"] and promoted["resume"]["epoch"] == 1
    assert promoted["decide_at"] == [3]
    assert get_search(client, sid)["counts"][TrialStatus.PAUSED] == 4
