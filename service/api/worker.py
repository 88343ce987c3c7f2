"""Routes of the worker protocol: claim, heartbeat, report, complete, fail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse

from service.api import views
from service.api.deps import API_PREFIX, TrialId, database, metrics, settings
from service.api.schemas import (
    ActionAnswer,
    Assignment,
    ClaimRequest,
    CompleteRequest,
    FailRequest,
    HeartbeatRequest,
    ReportRequest,
    TrialOut,
)
from service.db.session import Database
from service.metrics import Metrics
from service.settings import Settings
from service.store import protocol
from service.store.datasets import get_dataset_info
from service.store.searches import uploaded_dataset_id

router = APIRouter(prefix=API_PREFIX, tags=["worker protocol"])
DB = Annotated[Database, Depends(database)]
CONFIG = Annotated[Settings, Depends(settings)]


@router.post("/trials/claim", response_model=Assignment,
             responses={204: {"description": "no work for now"}})
def claim(body: ClaimRequest, db: DB, config: CONFIG,
          counters: Annotated[Metrics, Depends(metrics)]) -> Response:
    """Hand the worker one trial under a new lease, or 204 when there is no work."""
    claimed = protocol.claim(db, body.worker_id, body.search_id, config.lease_seconds)
    counters.count_claim("assigned" if claimed else "empty")
    if claimed is None:
        return Response(status_code=204)
    dataset_id = uploaded_dataset_id(claimed.search.spec)
    uploaded = get_dataset_info(db, dataset_id) if dataset_id is not None else None
    return JSONResponse(views.assignment_json(claimed, uploaded, config.heartbeat_seconds))


@router.post("/trials/{trial_id}/heartbeat", response_model=ActionAnswer)
def heartbeat(trial_id: TrialId, body: HeartbeatRequest, db: DB, config: CONFIG
              ) -> JSONResponse:
    """Extend the lease; answer continue or stop."""
    action = protocol.heartbeat(db, trial_id, body.lease_token, config.lease_seconds)
    return JSONResponse(views.action_json(action))


@router.post("/trials/{trial_id}/report", response_model=ActionAnswer)
def report(trial_id: TrialId, body: ReportRequest, db: DB, config: CONFIG) -> JSONResponse:
    """One epoch's metrics; answer continue or stop (early stopping decides here)."""
    action = protocol.report(db, trial_id, body.lease_token, body.epoch, body.metrics,
                             config.lease_seconds)
    return JSONResponse(views.action_json(action))


@router.post("/trials/{trial_id}/complete", response_model=TrialOut)
def complete(trial_id: TrialId, body: CompleteRequest, db: DB) -> JSONResponse:
    """The trial's final metrics; repeating the same call is harmless."""
    trial = protocol.complete(db, trial_id, body.lease_token, body.metrics)
    return JSONResponse(views.trial_json(trial))


@router.post("/trials/{trial_id}/fail", response_model=TrialOut)
def fail(trial_id: TrialId, body: FailRequest, db: DB) -> JSONResponse:
    """The trial failed; with retry it goes back to pending while attempts remain."""
    trial = protocol.fail(db, trial_id, body.lease_token, body.error, body.retry)
    return JSONResponse(views.trial_json(trial))
