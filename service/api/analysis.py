"""Routes of what the dashboard draws beside a search's trials: its rungs (ASHA,
Hyperband) and its parameter importance."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from service.api import views
from service.api.access import ReadableSearch
from service.api.deps import API_PREFIX, database, importances
from service.api.errors import documented
from service.api.schemas import ImportanceOut, RungsOut
from service.api.searches import NO_SEARCH
from service.db.session import Database
from service.store.importance_view import ImportanceCache
from service.store.rung_view import read_rungs

router = APIRouter(prefix=API_PREFIX, tags=["searches"])


@router.get("/searches/{search_id}/rungs", response_model=RungsOut,
            responses=documented({404: NO_SEARCH}))
def get_rungs(search_id: ReadableSearch, db: Annotated[Database, Depends(database)]
              ) -> JSONResponse:
    """The search's rungs, per bracket, and every trial's value at each rung it reached
    with what the rule made of it: continued, stopped, paused or resumed."""
    return JSONResponse(views.rungs_json(read_rungs(db, search_id)))


@router.get("/searches/{search_id}/importance", response_model=ImportanceOut,
            responses=documented({404: NO_SEARCH}))
def get_importance(search_id: ReadableSearch,
                   db: Annotated[Database, Depends(database)],
                   cache: Annotated[ImportanceCache, Depends(importances)]) -> JSONResponse:
    """Each searched parameter's share of the objective's variance (fANOVA on a random
    forest of the completed trials), remembered until another trial completes."""
    return JSONResponse(views.importance_json(cache.get(db, search_id)))
