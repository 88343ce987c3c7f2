"""Routes outside /api/v1: /healthz (answers when the database does) and /metrics."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel
from sqlalchemy import text

from service.api.access import caller_may
from service.api.deps import database, metrics
from service.api.errors import documented
from service.auth.roles import Permission
from service.db.outage import unavailable_reason
from service.db.session import Database
from service.metrics import Metrics
from service.store.fleet import read_gauges

router = APIRouter(tags=["system"])


class Health(BaseModel):
    """Whether the server's database answers: `status` ok with the backend's name, or
    unavailable with the reason."""

    status: Literal["ok", "unavailable"]
    database: str


@router.get("/healthz", response_model=Health,
            responses={503: {"model": Health, "description": "the database does not answer"}})
def healthz(db: Annotated[Database, Depends(database)]) -> JSONResponse:
    """200 when the database answers a query, else 503 with the reason."""
    try:
        with db.read() as session:
            session.execute(text("SELECT 1"))
    except Exception as error:  # noqa: BLE001 - any database failure means "not healthy"
        return JSONResponse({"status": "unavailable", "database": unavailable_reason(error)},
                            status_code=503)
    return JSONResponse({"status": "ok", "database": db.backend})


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}},
                             "description": "Prometheus text exposition format 0.0.4"},
                       **documented({}, takes_input=False)},
            dependencies=[Depends(caller_may(Permission.MONITOR))])
def prometheus(db: Annotated[Database, Depends(database)],
               counters: Annotated[Metrics, Depends(metrics)]) -> PlainTextResponse:
    """Prometheus text: trials by state, the fleet's demand, claims, request latency."""
    body = counters.render(*read_gauges(db))
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4")
