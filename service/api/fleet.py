"""`GET /api/v1/fleet`: the fleet's demand, what an autoscaler sizes the workers by
(KEDA's metrics-api scaler reads `wanted`; docs/deploy.md, "On Kubernetes")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from service.api.access import caller_may
from service.api.deps import API_PREFIX, database
from service.api.errors import documented
from service.api.schemas import Fleet
from service.auth.roles import Permission
from service.db.session import Database
from service.store.fleet import read_demand

router = APIRouter(prefix=API_PREFIX, tags=["fleet"])


@router.get("/fleet", response_model=Fleet, responses=documented({}, takes_input=False),
            dependencies=[Depends(caller_may(Permission.SCALE))])
def fleet(db: Annotated[Database, Depends(database)]) -> JSONResponse:
    """Trials running and waiting for a worker over every running search, and `wanted`,
    their sum: the workers (one trial each) that would all be busy now; 0 when no search
    runs."""
    return JSONResponse(read_demand(db).as_json())
