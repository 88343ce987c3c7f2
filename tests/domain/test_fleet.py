"""domain.fleet: a search's waiting trials, within max_parallel; the fleet's sum."""

from __future__ import annotations

from domain.fleet import FleetDemand, SearchLoad, fleet_demand


def load(running: int = 0, pending: int = 0, paused: int = 0, unproposed: int = 0,
         max_parallel: int = 4) -> SearchLoad:
    return SearchLoad(running, pending, paused, unproposed, max_parallel)


def test_waiting_counts_pending_paused_and_unproposed_trials_within_the_room():
    assert load(pending=1, paused=1, unproposed=1).waiting == 3
    assert load(running=3, pending=1, paused=1, unproposed=5).waiting == 1
    assert load(running=4, pending=2).waiting == 0


def test_retests_past_the_budget_propose_nothing():
    assert load(pending=2, unproposed=-2).waiting == 2  # n_trials past max_trials


def test_the_fleet_sums_its_searches():
    demand = fleet_demand([load(running=2, unproposed=9), load(paused=1, max_parallel=1)])
    assert demand == FleetDemand(running=2, waiting=3)
    assert demand.as_json() == {"running": 2, "waiting": 3, "wanted": 5}
