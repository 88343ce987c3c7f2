"""The fleet's demand, read from the running searches' counters: one query through the
index on the searches' status, no trial read (domain.fleet has the rule); and, for
/metrics, the trials by state over all searches, from the same counters."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.fleet import FleetDemand, SearchLoad, fleet_demand
from domain.lifecycle.states import SearchStatus, TrialStatus
from service.db.models import Search
from service.db.session import Database

_MAX_PARALLEL = Search.spec[("budget", "max_parallel")].as_integer()
_DEMAND = select(Search.count_running, Search.count_pending, Search.count_paused,
                 Search.max_trials - Search.n_trials, _MAX_PARALLEL
                 ).where(Search.status == SearchStatus.RUNNING)
_TRIALS_BY_STATE = select(*(func.coalesce(func.sum(getattr(Search, f"count_{state}")), 0)
                            for state in TrialStatus))


def _demand(session: Session) -> FleetDemand:
    return fleet_demand(SearchLoad(*row) for row in session.execute(_DEMAND).all())


def read_demand(db: Database) -> FleetDemand:
    """Trials running and waiting over every running search."""
    with db.read() as session:
        return _demand(session)


def read_gauges(db: Database) -> tuple[dict[str, int], FleetDemand]:
    """Trials by state over all searches (the searches' counters summed) and the fleet's
    demand, read in one session: what /metrics shows as gauges."""
    with db.read() as session:
        sums = session.execute(_TRIALS_BY_STATE).one()
        return dict(zip(TrialStatus, map(int, sums), strict=True)), _demand(session)
