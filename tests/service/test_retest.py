"""Re-testing over HTTP (METHODS.md §4): `POST /searches/{id}/retest` trains the best trials
again with new seeds, `GET /searches/{id}/leaderboard` ranks settings by the mean of their
runs. On every database (the `client` fixture)."""

from __future__ import annotations

import statistics
from typing import Any

import pytest

from domain.lifecycle.states import SearchStatus, TrialStatus
from tests.service.helpers import (
    API,
    claim,
    complete,
    create_search,
    dump_tables,
    get_search,
    report,
)

SAMPLED = {"hidden_units": {"type": "choice", "values": [50, 60, 70, 80, 90, 100]}}


def retest(client: Any, search_id: int, top: int, seeds: int, expected: int = 201) -> Any:
    response = client.post(f"{API}/searches/{search_id}/retest",
                           json={"top": top, "seeds": seeds})
    assert response.status_code == expected, response.text
    return response.json()


def leaderboard(client: Any, search_id: int, **query: Any) -> dict[str, Any]:
    response = client.get(f"{API}/searches/{search_id}/leaderboard", params=query)
    assert response.status_code == 200, response.text
    return response.json()


def trial(client: Any, trial_id: int) -> dict[str, Any]:
    return client.get(f"{API}/trials/{trial_id}").json()


def run(client: Any, search_id: int, *values: float) -> list[dict[str, Any]]:
    """Claim one trial per value and complete it with that value; the assignments."""
    assignments = [claim(client, search_id) for _ in values]
    for assignment, value in zip(assignments, values, strict=True):
        assert assignment is not None
        complete(client, assignment, value)
    return assignments  # type: ignore[return-value]


def test_a_completed_search_is_reopened_with_re_tests_of_its_best_trials(client):
    search = create_search(client, budget={"max_trials": 3, "max_parallel": 3})
    sid = search["id"]
    run(client, sid, 0.7, 0.9, 0.8)
    done = get_search(client, sid)
    assert done["status"] == SearchStatus.COMPLETED
    answer = retest(client, sid, top=2, seeds=3)
    reopened, created = answer["search"], answer["trials"]
    assert reopened["status"] == SearchStatus.RUNNING and reopened["finished_at"] is None
    assert (reopened["max_trials"], reopened["n_trials"]) == (9, 9)
    assert reopened["counts"][TrialStatus.PENDING] == 6
    by_number = {t["number"]: t for t in client.get(
        f"{API}/searches/{sid}/trials").json()["items"]}
    origins = [by_number[1], by_number[2]]  # 0.9, then 0.8
    assert [t["number"] for t in created] == [3, 4, 5, 6, 7, 8]
    for origin, group in zip(origins, (created[:3], created[3:]), strict=True):
        seeds = [t["params"]["seed"] for t in group]
        assert len(set(seeds)) == 3 and 0 not in seeds  # new, distinct; the original was 0
        for t in group:
            assert t["origin_trial_id"] == origin["id"]
            assert t["status"] == TrialStatus.PENDING and t["value"] is None
            assert {k: v for k, v in t["params"].items() if k != "seed"} == origin["params"]
    changed = client.get(f"{API}/searches/{sid}/trials", params={"since": done["cursor"]})
    assert [t["id"] for t in changed.json()["items"]] == [t["id"] for t in created]
    for value in (0.5, 0.6, 0.7, 0.8, 0.8, 0.8):
        assignment = claim(client, sid)
        assert trial(client, assignment["trial_id"])["origin_trial_id"] is not None
        complete(client, assignment, value)
    assert claim(client, sid) is None
    final = get_search(client, sid)
    assert final["status"] == SearchStatus.COMPLETED and final["counts"]["completed"] == 9


def test_seeds_are_new_distinct_and_the_same_for_the_same_search(client):
    fixed = {"optimizer": "adam", "epochs": 5, "seed": 11}
    seeds = []
    for _ in range(2):
        sid = create_search(client, budget={"max_trials": 1, "max_parallel": 1},
                            fixed=fixed)["id"]
        run(client, sid, 0.5)
        first = [t["params"]["seed"] for t in retest(client, sid, top=1, seeds=4)["trials"]]
        again = [t["params"]["seed"] for t in retest(client, sid, top=1, seeds=4)["trials"]]
        assert 11 not in first + again and len(set(first + again)) == 8
        seeds.append(first + again)
    assert seeds[0] == seeds[1]


def test_a_searched_seed_is_replaced_too(client):
    sid = create_search(client, budget={"max_trials": 1, "max_parallel": 1},
                        parameters={"seed": {"type": "int", "low": 0, "high": 10}})["id"]
    (origin,) = run(client, sid, 0.5)
    original = origin["params"]["seed"]
    created = retest(client, sid, top=1, seeds=3)["trials"]
    assert all(t["params"].keys() == {"seed"} and t["params"]["seed"] != original
               for t in created)


def test_only_trials_the_sampler_proposed_are_re_tested_fewer_if_fewer_completed(client):
    sid = create_search(client, budget={"max_trials": 2, "max_parallel": 2})["id"]
    first, second = run(client, sid, 0.6, 0.5)
    (lucky,) = retest(client, sid, top=1, seeds=1)["trials"]
    complete(client, claim(client, sid), 0.99)  # the re-test: the best single run
    assert get_search(client, sid)["best_trial"]["id"] == lucky["id"]
    created = retest(client, sid, top=5, seeds=2)["trials"]  # 2 originals only
    assert [t["origin_trial_id"] for t in created] == [first["trial_id"]] * 2 + [
        second["trial_id"]] * 2
    assert get_search(client, sid)["max_trials"] == 2 + 1 + 4


@pytest.mark.parametrize("spec", [
    {"sampler": {"kind": "grid"}},
    {"sampler": {"kind": "random", "seed": 3}},
    {"sampler": {"kind": "sobol", "seed": 3}},
    {"sampler": {"kind": "random", "seed": 3},
     "early_stopping": {"kind": "hyperband", "eta": 2, "min_epochs": 1}},
], ids=["grid", "random", "sobol", "hyperband"])
def test_re_tests_go_first_and_the_sampler_proposes_as_if_there_were_none(client, spec):
    budget = {"max_trials": 6, "max_parallel": 6}
    plain = create_search(client, budget=budget, parameters=SAMPLED, **spec)["id"]
    expected = [claim(client, plain) for _ in range(6)]
    sid = create_search(client, budget=budget, parameters=SAMPLED, **spec)["id"]
    run(client, sid, 0.5, 0.6)
    created = retest(client, sid, top=1, seeds=2)["trials"]
    first = [claim(client, sid) for _ in range(2)]
    assert [a["trial_id"] for a in first] == [t["id"] for t in created]
    proposed = [claim(client, sid) for _ in range(4)]
    assert claim(client, sid) is None
    assert [a["params"] for a in proposed] == [a["params"] for a in expected[2:]]
    brackets = {t["id"]: t["bracket"] for t in client.get(
        f"{API}/searches/{sid}/trials").json()["items"]}
    assert [brackets[a["trial_id"]] for a in proposed] == [
        trial(client, a["trial_id"])["bracket"] for a in expected[2:]]


def test_early_stopping_never_judges_a_re_test_and_the_median_leaves_re_tests_out(client):
    sid = create_search(client, budget={"max_trials": 3, "max_parallel": 3},
                        early_stopping={"kind": "median", "min_trials": 1,
                                        "min_epochs": 1})["id"]
    origin = claim(client, sid)
    for epoch in range(3):
        report(client, origin, epoch, 0.5)
    complete(client, origin, 0.5)
    retest(client, sid, top=1, seeds=3)
    low, *high = (claim(client, sid) for _ in range(3))
    for epoch in range(3):
        assert report(client, low, epoch, 0.1)["action"] == "continue"  # below the median
        for assignment in high:
            report(client, assignment, epoch, 0.99)
    for assignment, value in zip([low, *high], (0.1, 0.99, 0.99), strict=True):
        complete(client, assignment, value)
    # The median at each epoch is the original's 0.5, not 0.745 of [0.5, 0.1, 0.99, 0.99] ...
    proposed = claim(client, sid)
    assert report(client, proposed, 0, 0.55)["action"] == "continue"
    # ... and a proposed trial below it is stopped, as before.
    other = claim(client, sid)
    assert report(client, other, 0, 0.4)["action"] == "stop"


def test_asha_never_stops_a_re_test_nor_ranks_it_at_a_rung(client):
    sid = create_search(client, budget={"max_trials": 2, "max_parallel": 2},
                        early_stopping={"kind": "asha", "eta": 2, "min_epochs": 1})["id"]
    origin = claim(client, sid)
    for epoch in range(5):
        report(client, origin, epoch, 0.9)
    complete(client, origin, 0.9)
    retest(client, sid, top=1, seeds=1)
    again = claim(client, sid)
    for epoch in range(5):
        assert report(client, again, epoch, 0.1)["action"] == "continue"
    assert trial(client, again["trial_id"])["rung"] is None
    proposed = claim(client, sid)
    assert report(client, proposed, 0, 0.2)["action"] == "stop"  # ranked against 0.9 alone


def test_the_leaderboard_ranks_settings_by_the_mean_of_their_runs(client):
    sid = create_search(client, budget={"max_trials": 3, "max_parallel": 3})["id"]
    first, second, third = run(client, sid, 0.9, 0.8, 0.7)
    single = leaderboard(client, sid)
    assert [e["trial_id"] for e in single["items"]] == [
        first["trial_id"], second["trial_id"], third["trial_id"]]
    assert single["items"][0]["runs"] == 1 and single["items"][0]["std"] is None
    created = retest(client, sid, top=2, seeds=3)["trials"]
    values = {created[0]["id"]: 0.7, created[1]["id"]: 0.7, created[2]["id"]: 0.75,
              created[3]["id"]: 0.8, created[4]["id"]: 0.82}  # the last stays pending
    for _ in values:
        assignment = claim(client, sid)
        complete(client, assignment, values[assignment["trial_id"]])
    board = leaderboard(client, sid)
    assert board["total"] == 3
    top, middle, last = board["items"]
    assert top["trial_id"] == second["trial_id"] and top["number"] == second["number"]
    assert top["values"] == [0.8, 0.8, 0.82] and top["runs"] == 3
    assert top["trial_ids"] == [second["trial_id"], created[3]["id"], created[4]["id"]]
    assert top["mean"] == pytest.approx(statistics.fmean([0.8, 0.8, 0.82]))
    assert top["std"] == pytest.approx(statistics.stdev([0.8, 0.8, 0.82]))
    assert top["params"] == trial(client, second["trial_id"])["params"]
    assert middle["trial_id"] == first["trial_id"] and middle["values"] == [0.9, 0.7, 0.7, 0.75]
    assert last == single["items"][2]
    assert [e["trial_id"] for e in leaderboard(client, sid, limit=1)["items"]] == [
        second["trial_id"]]
    assert leaderboard(client, sid, limit=1)["total"] == 3


def test_the_leaderboard_follows_the_goal(client):
    sid = create_search(client, budget={"max_trials": 2, "max_parallel": 2},
                        objective={"metric": "dev_loss", "goal": "minimize"})["id"]
    low, high = run(client, sid, 0.8, 0.5)  # dev_loss is 1 - accuracy: 0.2 and 0.5
    assert [e["trial_id"] for e in leaderboard(client, sid)["items"]] == [
        low["trial_id"], high["trial_id"]]
    (again,) = retest(client, sid, top=1, seeds=1)["trials"]
    assert again["origin_trial_id"] == low["trial_id"]  # the best, for minimize
    complete(client, claim(client, sid), 0.1)  # dev_loss 0.9: the mean 0.55 is worse than 0.5
    board = leaderboard(client, sid)["items"]
    assert [e["trial_id"] for e in board] == [high["trial_id"], low["trial_id"]]
    assert board[1]["values"] == pytest.approx([0.2, 0.9])


def test_an_empty_leaderboard_and_unknown_searches(client):
    sid = create_search(client)["id"]
    assert leaderboard(client, sid) == {"items": [], "total": 0}
    assert client.get(f"{API}/searches/999/leaderboard").status_code == 404
    assert client.post(f"{API}/searches/999/retest", json={"top": 1, "seeds": 1}
                       ).status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"top": 0, "seeds": 1}, "top"),
    ({"top": 51, "seeds": 1}, "top"),
    ({"top": "3", "seeds": 1}, "top"),
    ({"top": 3.0, "seeds": 1}, "top"),
    ({"top": True, "seeds": 1}, "top"),
    ({"seeds": 1}, "top"),
    ({"top": 1, "seeds": 0}, "seeds"),
    ({"top": 1, "seeds": 51}, "seeds"),
    ({"top": 1, "seeds": None}, "seeds"),
    ({"top": 1, "seeds": 1, "seed": 3}, "seed"),
])
def test_bad_input_is_a_422_naming_the_field_and_stores_nothing(client, database_url, body,
                                                                 field):
    sid = create_search(client)["id"]
    run(client, sid, 0.5)
    before = dump_tables(database_url)
    response = client.post(f"{API}/searches/{sid}/retest", json=body)
    assert response.status_code == 422, response.text
    assert [error["loc"] for error in response.json()["detail"]] == [["body", field]]
    assert dump_tables(database_url) == before
    query = client.get(f"{API}/searches/{sid}/leaderboard", params={"limit": 0})
    assert query.status_code == 422 and query.json()["detail"][0]["loc"] == ["query", "limit"]


def test_a_budget_past_the_server_s_limit_is_a_422_and_stores_nothing(make_client,
                                                                      database_url):
    client = make_client(max_trials=10)
    sid = create_search(client, budget={"max_trials": 4, "max_parallel": 4})["id"]
    run(client, sid, 0.5, 0.6)
    before = dump_tables(database_url)
    response = client.post(f"{API}/searches/{sid}/retest", json={"top": 2, "seeds": 4})
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "seeds"]
    assert "from 4 to 12, past this server's limit of 10" in error["msg"]
    assert dump_tables(database_url) == before
    assert retest(client, sid, top=2, seeds=3)["search"]["max_trials"] == 10


def test_a_cancelled_search_or_one_without_a_completed_trial_is_a_409(client, database_url):
    fresh = create_search(client)["id"]
    claim(client, fresh)
    cancelled = create_search(client, budget={"max_trials": 2, "max_parallel": 2})["id"]
    run(client, cancelled, 0.5)
    client.post(f"{API}/searches/{cancelled}/cancel")
    before = dump_tables(database_url)
    response = client.post(f"{API}/searches/{fresh}/retest", json={"top": 1, "seeds": 1})
    assert response.status_code == 409
    assert response.json()["detail"] == (f"search {fresh} has no completed trial yet: "
                                         "nothing to re-test")
    response = client.post(f"{API}/searches/{cancelled}/retest", json={"top": 1, "seeds": 1})
    assert response.status_code == 409
    assert response.json()["detail"] == f"search {cancelled} is cancelled: cannot reopen"
    assert dump_tables(database_url) == before
