"""Routes of re-testing (METHODS.md §4): re-train a search's best trials with new seeds, and
its leaderboard ranked by the mean of each setting's runs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from service.api import views
from service.api.access import ChangeableSearch, ReadableSearch
from service.api.deps import API_PREFIX, database, lifecycle, settings
from service.api.errors import documented
from service.api.schemas import Leaderboard, RetestOut, RetestRequest
from service.api.searches import NO_SEARCH
from service.db.session import Database
from service.settings import Settings
from service.store import searches
from service.store.lifecycle import Lifecycle
from service.store.retests import read_leaderboard

router = APIRouter(prefix=API_PREFIX, tags=["searches"])


@router.post("/searches/{search_id}/retest", status_code=201, response_model=RetestOut,
             responses=documented({404: NO_SEARCH, 409: "the search is cancelled, or has no "
                                   "completed trial yet"}))
def retest(search_id: ChangeableSearch, body: RetestRequest,
           db: Annotated[Database, Depends(database)],
           store: Annotated[Lifecycle, Depends(lifecycle)],
           config: Annotated[Settings, Depends(settings)]) -> JSONResponse:
    """Train the search's best `top` completed trials (not re-tests) again, `seeds` times
    each with a new seed: new pending trials, handed out before any new proposal. Its
    `max_trials` grows by their number (422 past CAVIAR_MAX_TRIALS); a completed search
    runs again."""
    created = store.retest(search_id, body.top, body.seeds, config.max_trials)
    return JSONResponse({"search": views.search_json(searches.get_search(db, search_id)),
                         "trials": [views.trial_json(trial) for trial in created]},
                        status_code=201)


@router.get("/searches/{search_id}/leaderboard", response_model=Leaderboard,
            responses=documented({404: NO_SEARCH}))
def leaderboard(search_id: ReadableSearch, db: Annotated[Database, Depends(database)],
                limit: Annotated[int, Query(ge=1, le=1000)] = 20) -> JSONResponse:
    """The search's settings, best mean first: each trial its sampler proposed with its
    completed re-tests (runs, mean, sample std, values)."""
    ranked, total = read_leaderboard(db, search_id, limit)
    return JSONResponse(views.leaderboard_json(ranked, total))
