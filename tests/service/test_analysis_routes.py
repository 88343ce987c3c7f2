"""GET /searches/{id}/rungs and /importance over HTTP, on each database: the rungs and the
values the rule judged at them, and parameter importance remembered per completed count."""

from __future__ import annotations

import hashlib
import math

from sqlalchemy import create_engine, text

from service.search import importance
from tests.service.helpers import API, call, claim, complete, create_search, report


def rungs_of(client, search_id: int) -> dict:
    answer = client.get(f"{API}/searches/{search_id}/rungs")
    assert answer.status_code == 200, answer.text
    return answer.json()


def checkpoint(client, assignment: dict, epoch: int) -> None:
    data = b"state"
    answer = client.put(f"{API}/trials/{assignment['trial_id']}/checkpoint",
                        params={"lease_token": assignment["lease_token"], "epoch": epoch,
                                "sha256": hashlib.sha256(data).hexdigest()},
                        content=data, headers={"content-type": "application/octet-stream"})
    assert answer.status_code == 200, answer.text


def test_asha_rungs_hold_each_value_and_what_became_of_it(client):
    search = create_search(client, early_stopping={"kind": "asha", "eta": 2, "resume": True},
                           budget={"max_trials": 4, "max_parallel": 4})
    sid = search["id"]
    lead, paused, low, lower = (claim(client, sid) for _ in range(4))
    assert report(client, lead, 0, 0.5)["action"] == "continue"
    assert report(client, paused, 0, 0.4)["action"] == "pause"
    checkpoint(client, paused, 1)
    assert report(client, low, 0, 0.2)["action"] == "pause"
    assert report(client, lower, 0, 0.1)["action"] == "pause"
    for worse in (low, lower):
        call(client, worse, "complete", metrics={"dev_accuracy": 0.1})
    assert report(client, lead, 1, 0.6)["action"] == "continue"  # alone at rung 1 (2 epochs)
    assert claim(client, sid)["trial_id"] == paused["trial_id"]  # 2 of 4: in the top half now

    answer = rungs_of(client, sid)
    assert answer["kind"] == "asha" and answer["eta"] == 2
    assert answer["brackets"] == [{"bracket": 0, "rungs": [
        {"rung": 0, "epochs": 1, "values": 4}, {"rung": 1, "epochs": 2, "values": 1},
        {"rung": 2, "epochs": 4, "values": 0}]}]
    number = {a["trial_id"]: a["number"] for a in (lead, paused, low, lower)}
    assert answer["entries"] == [
        {"trial_id": a["trial_id"], "number": number[a["trial_id"]], "bracket": 0, "rung": rung,
         "epochs": epochs, "value": value, "outcome": outcome}
        for a, rung, epochs, value, outcome in [
            (lead, 0, 1, 0.5, "continued"), (paused, 0, 1, 0.4, "resumed"),
            (low, 0, 1, 0.2, "paused"), (lower, 0, 1, 0.1, "paused"),
            (lead, 1, 2, 0.6, "continued")]]


def test_a_trial_below_the_top_without_resume_is_stopped_at_its_rung(client):
    search = create_search(client, early_stopping={"kind": "asha", "eta": 2},
                           budget={"max_trials": 2, "max_parallel": 2})
    first, second = claim(client, search["id"]), claim(client, search["id"])
    report(client, first, 0, 0.5)
    told = call(client, second, "report", epoch=0, metrics={"dev_accuracy": None}).json()
    assert told["action"] == "stop"  # no value: the worst
    entries = rungs_of(client, search["id"])["entries"]
    assert [(e["trial_id"], e["value"], e["outcome"]) for e in entries] == [
        (first["trial_id"], 0.5, "continued"), (second["trial_id"], None, "stopped")]


def test_hyperband_rungs_are_listed_per_bracket(client):
    search = create_search(client, early_stopping={"kind": "hyperband", "eta": 3},
                           fixed={"optimizer": "adam", "epochs": 9})
    answer = rungs_of(client, search["id"])
    assert answer["kind"] == "hyperband" and answer["eta"] == 3 and answer["entries"] == []
    assert [[r["epochs"] for r in b["rungs"]] for b in answer["brackets"]] == [[1, 3], [3], []]


def test_a_search_without_rungs_answers_none_and_a_missing_one_404(client):
    search = create_search(client, early_stopping={"kind": "median"})
    assert rungs_of(client, search["id"]) == {"kind": None, "eta": None, "brackets": [],
                                              "entries": []}
    assert client.get(f"{API}/searches/999/rungs").status_code == 404
    assert client.get(f"{API}/searches/999/importance").status_code == 404


def accuracy(params: dict) -> float:
    """A known objective: the learning rate's decade decides it; hidden_units does nothing."""
    return 0.9 + 0.05 * math.log10(params["learning_rate"])


def test_importance_ranks_the_parameter_that_decides_and_is_remembered(client, monkeypatch):
    search = create_search(client, budget={"max_trials": 30, "max_parallel": 2})
    sid = search["id"]
    fits = []
    fit = importance.importance
    monkeypatch.setattr(importance, "importance", lambda *a, **k: fits.append(1) or fit(*a, **k))

    def run(count: int) -> None:
        for _ in range(count):
            assignment = claim(client, sid)
            complete(client, assignment, accuracy(assignment["params"]))

    run(importance.MIN_TRIALS - 1)
    few = client.get(f"{API}/searches/{sid}/importance").json()
    assert few == {"finished_trials": importance.MIN_TRIALS - 1, "parameters": [],
                   "reason": f"needs at least {importance.MIN_TRIALS} completed trials"}
    run(22 - importance.MIN_TRIALS)
    answer = client.get(f"{API}/searches/{sid}/importance").json()
    assert answer["finished_trials"] == 21 and answer["reason"] is None
    shares = {p["name"]: p["importance"] for p in answer["parameters"]}
    assert [p["name"] for p in answer["parameters"]] == ["learning_rate", "hidden_units"]
    assert shares["learning_rate"] > 0.8 and shares["hidden_units"] < 0.1
    assert sum(shares.values()) <= 1
    assert client.get(f"{API}/searches/{sid}/importance").json() == answer
    assert len(fits) == 1, "refitted with no new completed trial"
    running = claim(client, sid)
    report(client, running, 0, 0.5)  # a trial that has not completed changes nothing
    assert client.get(f"{API}/searches/{sid}/importance").json() == answer
    complete(client, running, accuracy(running["params"]))
    assert client.get(f"{API}/searches/{sid}/importance").json()["finished_trials"] == 22
    assert len(fits) == 2


def test_importance_of_an_objective_that_does_not_vary_is_none(client):
    search = create_search(client, budget={"max_trials": 12, "max_parallel": 1})
    for _ in range(12):
        complete(client, claim(client, search["id"]), 0.5)
    answer = client.get(f"{API}/searches/{search['id']}/importance").json()
    assert answer["reason"] is None and answer["finished_trials"] == 12
    assert [p["importance"] for p in answer["parameters"]] == [0.0, 0.0]


def test_re_tests_are_left_out_of_importance(client, database_url):
    search = create_search(client, budget={"max_trials": 11, "max_parallel": 1})
    done = [complete(client, claim(client, search["id"]), 0.5 + 0.01 * n) for n in range(11)]
    engine = create_engine(database_url)
    with engine.begin() as connection:  # as a re-test of the first trial would be stored
        connection.execute(text("UPDATE trials SET origin_trial_id = :origin WHERE id = :id"),
                           {"origin": done[0]["id"], "id": done[-1]["id"]})
    engine.dispose()
    answer = client.get(f"{API}/searches/{search['id']}/importance").json()
    assert answer["finished_trials"] == 10 and answer["reason"] is None
