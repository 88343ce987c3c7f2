"""Routes of searches: create, list, get, cancel; and a search's trials (paged or since)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import JSONResponse, Response

from domain.errors import Invalid
from domain.spec import SearchSpec, max_trials_rule
from service.api import views
from service.api.access import ChangeableSearch, ReadableSearch, caller_may
from service.api.deps import API_PREFIX, database, lifecycle, settings
from service.api.errors import documented
from service.api.schemas import (
    MAX_CURSOR,
    SearchList,
    SearchOut,
    SearchStatus,
    TrialList,
    TrialStatus,
)
from service.auth.roles import Caller, Permission
from service.db.session import Database
from service.settings import Settings
from service.store import searches, trials
from service.store.lifecycle import Lifecycle

router = APIRouter(prefix=API_PREFIX, tags=["searches"])
NO_SEARCH = "no search has this id"

SPEC_EXAMPLE = {
    "name": "digits-adam",
    "dataset": "digits",
    "objective": {"metric": "dev_accuracy", "goal": "maximize"},
    "budget": {"max_trials": 20, "max_parallel": 4},
    "parameters": {"learning_rate": {"type": "float", "low": 1e-4, "high": 1, "scale": "log"}},
    "fixed": {"optimizer": "adam", "epochs": 10},
}


@router.post("/searches", status_code=201, response_model=SearchOut,
             responses=documented({409: "the owner has too many open searches"}))
def create_search(
    spec: Annotated[SearchSpec, Body(examples=[SPEC_EXAMPLE])],
    db: Annotated[Database, Depends(database)],
    config: Annotated[Settings, Depends(settings)],
    caller: Annotated[Caller, Depends(caller_may(Permission.SUBMIT))],
) -> JSONResponse:
    """Create a search from a spec, owned by the token's owner; 422 naming the field and
    the rule if it breaks one (`budget.max_trials` also against this server's limit,
    CAVIAR_MAX_TRIALS); 409 if the owner already has CAVIAR_MAX_OPEN_SEARCHES open."""
    rule = max_trials_rule(spec.budget.max_trials, config.max_trials)
    if rule is not None:
        raise Invalid(["body", "budget", "max_trials"], rule, "search_spec")
    view = searches.create_search(db, spec, caller.owner, caller.owner_scope,
                                  config.max_open_searches)
    return JSONResponse(views.search_json(view), status_code=201)


@router.get("/searches", response_model=SearchList, responses=documented({}))
def list_searches(
    db: Annotated[Database, Depends(database)],
    caller: Annotated[Caller, Depends(caller_may(Permission.READ))],
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_CURSOR)] = 0,
    status: SearchStatus | None = None,
) -> JSONResponse:
    """Searches, newest first (a user's: their own)."""
    items, total = searches.list_searches(db, limit, offset, status, caller.owner_scope)
    return JSONResponse({"items": [views.search_json(v) for v in items], "total": total})


@router.get("/searches/{search_id}", response_model=SearchOut,
            responses=documented({404: NO_SEARCH}))
def get_search(search_id: ReadableSearch,
               db: Annotated[Database, Depends(database)]) -> JSONResponse:
    """One search with its counts, best trial and cursor."""
    return JSONResponse(views.search_json(searches.get_search(db, search_id)))


@router.post("/searches/{search_id}/cancel", response_model=SearchOut,
             responses=documented({404: NO_SEARCH, 409: "the search is already completed"}))
def cancel_search(search_id: ChangeableSearch,
                  db: Annotated[Database, Depends(database)],
                  store: Annotated[Lifecycle, Depends(lifecycle)]) -> JSONResponse:
    """Stop handing out the search's trials; running ones are told to stop."""
    store.cancel(search_id)
    return JSONResponse(views.search_json(searches.get_search(db, search_id)))


@router.get("/searches/{search_id}/trials", response_model=TrialList,
            responses=documented({404: NO_SEARCH}))
def list_trials(
    search_id: ReadableSearch,
    db: Annotated[Database, Depends(database)],
    since: Annotated[int | None, Query(ge=0, le=MAX_CURSOR,
                                       description="a cursor: only trials changed after it")]
    = None,
    status: TrialStatus | None = None,
    order: Literal["number", "value"] = "number",
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_CURSOR)] = 0,
) -> Response:
    """The search's trials: a page (status filter, order), or what changed since a cursor.

    The body is built as bytes from JSON text the database renders (a full load
    can hold 10,000 trials).
    """
    if since is not None:
        page = trials.trials_since(db, search_id, since, limit)
        body = views.trial_list_body(page.rows, cursor=page.cursor, has_more=page.has_more)
    else:
        page = trials.page_trials(db, search_id, status, order, limit, offset)
        body = views.trial_list_body(page.rows, total=page.total, cursor=page.cursor)
    return Response(body, media_type="application/json")
