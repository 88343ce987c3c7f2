"""The fleet's demand, read from the running searches' counters: one query through the
index on the searches' status, no trial read (domain.fleet has the rule)."""

from __future__ import annotations

from sqlalchemy import select

from domain.fleet import FleetDemand, SearchLoad, fleet_demand
from domain.lifecycle.states import SearchStatus
from service.db.models import Search
from service.db.session import Database


def read_demand(db: Database) -> FleetDemand:
    """Trials running and waiting over every running search."""
    max_parallel = Search.spec[("budget", "max_parallel")].as_integer()
    query = select(Search.count_running, Search.count_pending, Search.count_paused,
                   Search.max_trials - Search.n_trials, max_parallel
                   ).where(Search.status == SearchStatus.RUNNING)
    with db.read() as session:
        rows = session.execute(query).all()
    return fleet_demand(SearchLoad(*row) for row in rows)
