"""Searches and trial listings through the HTTP API: create, read, list, page, `since`."""

from __future__ import annotations

from tests.service.helpers import API, claim, complete, create_search, get_search, make_spec, report


def test_create_returns_the_normalized_search(client):
    search = create_search(client)
    assert search["status"] == "running" and search["name"] == "test-search"
    assert search["spec"]["budget"] == {"max_trials": 4, "max_parallel": 2, "max_attempts": 2}
    assert search["spec"]["split"] == {"dev": 0.15, "test": 0.15, "seed": 0}
    assert search["spec"]["dataset"] == {"name": "digits", "options": {}}
    assert search["counts"] == {s: 0 for s in ("pending", "running", "paused", "completed",
                                               "failed", "pruned", "cancelled")}
    assert search["n_trials"] == 0 and search["max_trials"] == 4
    assert search["best_trial"] is None and search["cursor"] == 0 and search["rounds"] == []
    assert search["created_at"].endswith("Z") and search["finished_at"] is None
    assert get_search(client, search["id"]) == search


def test_list_is_newest_first_paged_and_filtered(client):
    ids = [create_search(client, name=f"s{i}")["id"] for i in range(3)]
    client.post(f"{API}/searches/{ids[0]}/cancel")
    page = client.get(f"{API}/searches", params={"limit": 2}).json()
    assert page["total"] == 3 and [s["id"] for s in page["items"]] == ids[::-1][:2]
    rest = client.get(f"{API}/searches", params={"limit": 2, "offset": 2}).json()
    assert [s["id"] for s in rest["items"]] == [ids[0]]
    running = client.get(f"{API}/searches", params={"status": "running"}).json()
    assert running["total"] == 2 and {s["id"] for s in running["items"]} == set(ids[1:])


def test_trials_page_filters_and_orders_by_value(client):
    search = create_search(client, budget={"max_trials": 4, "max_parallel": 4})
    assignments = [claim(client, search["id"]) for _ in range(4)]
    for assignment, accuracy in zip(assignments[:3], [0.6, 0.9, 0.7], strict=True):
        complete(client, assignment, accuracy)
    url = f"{API}/searches/{search['id']}/trials"
    by_value = client.get(url, params={"order": "value"}).json()
    assert [t["value"] for t in by_value["items"]] == [0.9, 0.7, 0.6, None]
    assert by_value["total"] == 4 and by_value["cursor"] == get_search(client, search["id"])[
        "cursor"]
    completed = client.get(url, params={"status": "completed", "limit": 2}).json()
    assert completed["total"] == 3 and [t["number"] for t in completed["items"]] == [0, 1]
    running = client.get(url, params={"status": "running"}).json()
    assert [t["id"] for t in running["items"]] == [assignments[3]["trial_id"]]


def test_since_returns_only_what_changed_in_cursor_order(client):
    search = create_search(client, budget={"max_trials": 3, "max_parallel": 3})
    url = f"{API}/searches/{search['id']}/trials"
    empty = client.get(url, params={"since": 0}).json()
    assert empty == {"items": [], "cursor": 0, "has_more": False}
    a, b, c = (claim(client, search["id"]) for _ in range(3))
    everything = client.get(url, params={"since": 0}).json()
    assert [t["number"] for t in everything["items"]] == [0, 1, 2]
    cursor = everything["cursor"]
    assert cursor == get_search(client, search["id"])["cursor"] and not everything["has_more"]
    nothing = client.get(url, params={"since": cursor}).json()
    assert nothing == {"items": [], "cursor": cursor, "has_more": False}
    report(client, b, 0, 0.5)
    complete(client, a, 0.7)
    changed = client.get(url, params={"since": cursor}).json()
    assert [t["id"] for t in changed["items"]] == [b["trial_id"], a["trial_id"]]
    assert [t["seq"] for t in changed["items"]] == sorted(t["seq"] for t in changed["items"])
    assert changed["items"][1]["status"] == "completed" and changed["cursor"] > cursor
    first = client.get(url, params={"since": cursor, "limit": 1}).json()
    assert len(first["items"]) == 1 and first["has_more"] is True
    second = client.get(url, params={"since": first["cursor"], "limit": 1}).json()
    assert second["items"][0]["id"] == a["trial_id"] and second["has_more"] is False
    assert c["trial_id"] not in [t["id"] for t in changed["items"]]
    ahead = client.get(url, params={"since": 10**6}).json()
    assert ahead == {"items": [], "cursor": second["cursor"], "has_more": False}


def test_the_search_counts_match_its_trials(client):
    search = create_search(client, budget={"max_trials": 6, "max_parallel": 6})
    assignments = [claim(client, search["id"]) for _ in range(5)]
    complete(client, assignments[0], 0.5)
    client.post(f"{API}/trials/{assignments[1]['trial_id']}/fail",
                json={"lease_token": assignments[1]["lease_token"], "error": "x"})
    client.post(f"{API}/trials/{assignments[2]['trial_id']}/fail",
                json={"lease_token": assignments[2]["lease_token"], "error": "x", "retry": True})
    client.post(f"{API}/searches/{search['id']}/cancel")
    stored = get_search(client, search["id"])
    trials = client.get(f"{API}/searches/{search['id']}/trials").json()["items"]
    actual = {status: sum(t["status"] == status for t in trials) for status in stored["counts"]}
    assert stored["counts"] == actual
    assert actual == {"pending": 0, "running": 2, "paused": 0, "completed": 1, "failed": 1,
                      "pruned": 0, "cancelled": 1}


def test_an_uploaded_dataset_must_exist(client):
    response = client.post(f"{API}/searches", json=make_spec(dataset={"id": 42}))
    assert response.status_code == 422
    assert response.json()["detail"] == [{"loc": ["body", "dataset", "id"],
                                          "msg": "no uploaded dataset has id 42",
                                          "type": "value_error"}]
    assert client.get(f"{API}/searches").json()["total"] == 0


def test_max_trials_is_limited_by_the_server_setting(make_client):
    client = make_client(max_trials=50)
    response = client.post(f"{API}/searches", json=make_spec(budget={"max_trials": 51}))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "budget", "max_trials"]
    assert "at most 50" in response.json()["detail"][0]["msg"]
