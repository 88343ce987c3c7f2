"""The fleet's demand: how many workers the running searches could keep busy now.

An autoscaler sizes the worker fleet by it (`GET /api/v1/fleet`, and the
`caviar_fleet_trials` gauge of `/metrics`). Trials are proposed when a worker
claims one, so pending rows alone would say 0 for a search nobody has claimed
from yet: a search's waiting trials also count those its budget has yet to
propose, within its `max_parallel`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from domain.lifecycle.states import TrialStatus


@dataclass(frozen=True)
class SearchLoad:
    """What one running search holds and may still hand out, from its counters."""

    running: int
    pending: int
    paused: int
    unproposed: int  # max_trials - n_trials: trials its sampler has yet to propose
    max_parallel: int

    @property
    def waiting(self) -> int:
        """Trials a claim could take now: pending ones, paused ones (a claim may promote
        them, or retire them once the budget is spent) and unproposed ones, within the
        room max_parallel leaves. An upper bound: a sampler may wait for trials in
        flight (coarse_to_fine between rounds) or be exhausted (grid)."""
        room = max(0, self.max_parallel - self.running)
        return min(room, self.pending + self.paused + max(0, self.unproposed))


@dataclass(frozen=True)
class FleetDemand:
    """Trials running and waiting over every running search."""

    running: int
    waiting: int

    @property
    def wanted(self) -> int:
        """Workers (one trial each) that would all be busy now: running + waiting."""
        return self.running + self.waiting

    def as_json(self) -> dict[str, int]:
        """The JSON of `GET /api/v1/fleet`."""
        return {TrialStatus.RUNNING.value: self.running, "waiting": self.waiting,
                "wanted": self.wanted}


def fleet_demand(loads: Iterable[SearchLoad]) -> FleetDemand:
    """The sum over the running searches' loads."""
    running = waiting = 0
    for load in loads:
        running += load.running
        waiting += load.waiting
    return FleetDemand(running=running, waiting=waiting)
