"""GET /api/v1/fleet and the caviar_fleet_trials gauge: the fleet's demand over the running
searches, through HTTP, as trials are claimed, completed, given back and cancelled."""

from __future__ import annotations

from typing import Any

from tests.service.helpers import API, call, claim, complete, create_search


def demand(client: Any) -> dict[str, int]:
    response = client.get(f"{API}/fleet")
    assert response.status_code == 200, response.text
    return response.json()


def test_no_running_search_wants_no_worker(client):
    assert demand(client) == {"running": 0, "waiting": 0, "wanted": 0}
    done = create_search(client, budget={"max_trials": 1, "max_parallel": 1})["id"]
    complete(client, claim(client, done), 0.5)
    cancelled = create_search(client)["id"]
    assert client.post(f"{API}/searches/{cancelled}/cancel").status_code == 200
    assert client.get(f"{API}/searches/{done}").json()["status"] == "completed"
    assert demand(client) == {"running": 0, "waiting": 0, "wanted": 0}


def test_running_and_waiting_trials_are_counted_over_the_running_searches(client):
    a = create_search(client, budget={"max_trials": 3, "max_parallel": 2})["id"]
    b = create_search(client, budget={"max_trials": 1, "max_parallel": 4})["id"]
    # Nothing proposed yet: each search waits for as many workers as its budget and
    # max_parallel allow (a: 2 of 3, b: its 1).
    assert demand(client) == {"running": 0, "waiting": 3, "wanted": 3}
    first, second = claim(client, a), claim(client, a)
    assert demand(client) == {"running": 2, "waiting": 1, "wanted": 3}  # a is full
    complete(client, first, 0.5)
    assert demand(client) == {"running": 1, "waiting": 2, "wanted": 3}  # a: 1 more to propose
    b_trial = claim(client, b)
    assert demand(client) == {"running": 2, "waiting": 1, "wanted": 3}
    given_back = call(client, second, "fail", error="worker shutting down", retry=True)
    assert given_back.status_code == 200, given_back.text
    # a: one pending trial and one to propose, room for 2; b: its one trial running.
    assert demand(client) == {"running": 1, "waiting": 2, "wanted": 3}
    text = client.get("/metrics").text
    assert 'caviar_fleet_trials{state="running"} 1' in text
    assert 'caviar_fleet_trials{state="waiting"} 2' in text
    assert client.post(f"{API}/searches/{a}/cancel").status_code == 200
    assert demand(client) == {"running": 1, "waiting": 0, "wanted": 1}
    complete(client, b_trial, 0.5)
    assert demand(client) == {"running": 0, "waiting": 0, "wanted": 0}
    text = client.get("/metrics").text
    assert 'caviar_fleet_trials{state="running"} 0' in text
    assert 'caviar_fleet_trials{state="waiting"} 0' in text
