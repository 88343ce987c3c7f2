"""Re-tests in the store: adding them to a search, and reading its leaderboard.

`add` runs in the lifecycle's write transaction (Lifecycle.retest), the search locked
first as every writer does; the rule is domain.lifecycle.transitions.add_retests, the
seeds and the ranking service.search.retests'. `leaderboard` is a read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select

from domain.errors import Conflict, Invalid, NotFound
from domain.lifecycle.records import TrialRecord
from domain.lifecycle.states import TrialStatus
from domain.lifecycle.transitions import add_retests
from service.db.session import Database
from service.search.retests import (
    Group,
    Run,
    leaderboard,
    original_seed,
    retest_params,
    retest_seeds,
)
from service.store.rows import Rows
from service.store.tables import SEARCHES, TRIAL_COLUMNS, TRIALS, trial_record

_COMPLETED_ORIGINALS = (TRIALS.c.search_id == bindparam("search_id"),
                        TRIALS.c.status == TrialStatus.COMPLETED,
                        TRIALS.c.origin_trial_id.is_(None), TRIALS.c.value.is_not(None))
_BEST = {
    goal: select(*TRIAL_COLUMNS).where(*_COMPLETED_ORIGINALS)
    .order_by(order, TRIALS.c.number).limit(bindparam("top"))
    for goal, order in (("maximize", TRIALS.c.value.desc()), ("minimize", TRIALS.c.value.asc()))
}
_RETESTS_SO_FAR = (select(TRIALS.c.origin_trial_id, func.count())
                   .where(TRIALS.c.search_id == bindparam("search_id"),
                          TRIALS.c.origin_trial_id.is_not(None))
                   .group_by(TRIALS.c.origin_trial_id))
_GOAL = select(SEARCHES.c.spec).where(SEARCHES.c.id == bindparam("search_id"))
_RUNS = (select(TRIALS.c.id, TRIALS.c.number, TRIALS.c.value, TRIALS.c.origin_trial_id)
         .where(TRIALS.c.search_id == bindparam("search_id"),
                TRIALS.c.status == TrialStatus.COMPLETED, TRIALS.c.value.is_not(None)))
_PARAMS = select(TRIALS.c.id, TRIALS.c.params).where(
    TRIALS.c.id.in_(bindparam("trial_ids", expanding=True)))


def add(rows: Rows, search_id: int, top: int, seeds: int, max_trials_limit: int,
        now: datetime) -> list[TrialRecord]:
    """Re-test the search's best `top` completed trials that are not re-tests (fewer if it
    has fewer), `seeds` new pending trials each; the new trials, stored.

    NotFound for an unknown search; Conflict if it is cancelled or has no completed trial;
    Invalid (`seeds`) if its budget would pass the server's limit. Nothing is written then.
    """
    search = rows.lock_search(search_id)
    if search is None:
        raise NotFound(f"search {search_id} not found")
    spec = search.spec
    best = rows.sql.all(_BEST[spec.objective.goal], {"search_id": search.id, "top": top})
    origins = [trial_record(row) for row in best]
    if not origins:
        raise Conflict(f"search {search_id} has no completed trial yet: nothing to re-test")
    so_far = {origin_id: count for origin_id, count
              in rows.sql.all(_RETESTS_SO_FAR, {"search_id": search.id})}
    runs = [(origin, retest_params(origin.params, seed)) for origin in origins
            for seed in retest_seeds(spec.sampler.seed, origin.number,
                                     original_seed(spec, origin.params),
                                     so_far.get(origin.id, 0), seeds)]
    before = search.max_trials
    trials = add_retests(search, runs, now)
    if search.max_trials > max_trials_limit:  # raised before any write: none is made
        raise Invalid(["body", "seeds"], f"{len(origins)} trial(s) x {seeds} seeds = "
                      f"{len(runs)} re-tests would raise max_trials from {before} to "
                      f"{search.max_trials}, past this server's limit of {max_trials_limit} "
                      "(CAVIAR_MAX_TRIALS)", "retest_budget")
    rows.update(search)
    for trial in trials:
        rows.insert(trial)
    rows.flush()
    return trials


@dataclass(frozen=True)
class Ranked:
    """A leaderboard's group with the params of its setting (its first trial's)."""

    group: Group
    params: dict[str, Any]


def read_leaderboard(db: Database, search_id: int, limit: int) -> tuple[list[Ranked], int]:
    """The search's best `limit` groups (service.search.retests.leaderboard) and how many
    groups it has; NotFound for an unknown search."""
    with db.read_connection() as connection:
        spec = connection.scalar(_GOAL, {"search_id": search_id})
        if spec is None:
            raise NotFound(f"search {search_id} not found")
        runs = [Run(*row) for row in connection.execute(_RUNS, {"search_id": search_id})]
        groups = leaderboard(runs, spec["objective"]["goal"])
        shown = groups[:limit]
        params = dict(connection.execute(
            _PARAMS, {"trial_ids": [group.trial_id for group in shown]}).all()) if shown else {}
        return [Ranked(group, params[group.trial_id]) for group in shown], len(groups)
