"""Routes of the worker protocol: claim, heartbeat, report, complete, fail.

These are the server's hot path. The handlers are `async def` and run their
one short transaction (about a millisecond) directly on the event loop: the
hop to the thread pool and back cost more CPU than the transaction itself.
They take the app's database and settings from the request rather than
through dependencies, for the same reason.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from service.api import views
from service.api.deps import API_PREFIX, TrialId
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
from service.store import protocol
from service.store.datasets import get_dataset_info
from service.store.searches import uploaded_dataset_id

router = APIRouter(prefix=API_PREFIX, tags=["worker protocol"])


@router.post("/trials/claim", response_model=Assignment,
             responses={204: {"description": "no work for now"}})
async def claim(body: ClaimRequest, request: Request) -> Response:
    """Hand the worker one trial under a new lease, or 204 when there is no work."""
    state = request.app.state
    claimed = protocol.claim(state.db, body.worker_id, body.search_id,
                             state.settings.lease_seconds)
    state.metrics.count_claim("assigned" if claimed else "empty")
    if claimed is None:
        return Response(status_code=204)
    dataset_id = uploaded_dataset_id(claimed.spec)
    uploaded = get_dataset_info(state.db, dataset_id) if dataset_id is not None else None
    return JSONResponse(views.assignment_json(claimed, uploaded,
                                              state.settings.heartbeat_seconds))


@router.post("/trials/{trial_id}/heartbeat", response_model=ActionAnswer)
async def heartbeat(trial_id: TrialId, body: HeartbeatRequest, request: Request
                    ) -> JSONResponse:
    """Extend the lease; answer continue or stop."""
    state = request.app.state
    action = protocol.heartbeat(state.db, trial_id, body.lease_token,
                                state.settings.lease_seconds)
    return JSONResponse(views.action_json(action))


@router.post("/trials/{trial_id}/report", response_model=ActionAnswer)
async def report(trial_id: TrialId, body: ReportRequest, request: Request) -> JSONResponse:
    """One or more epochs' metrics; answer continue or stop (early stopping decides here)."""
    state = request.app.state
    action = protocol.report(state.db, trial_id, body.lease_token, body.epochs(),
                             state.settings.lease_seconds)
    return JSONResponse(views.action_json(action))


@router.post("/trials/{trial_id}/complete", response_model=TrialOut)
async def complete(trial_id: TrialId, body: CompleteRequest, request: Request
                   ) -> JSONResponse:
    """The trial's final metrics; repeating the same call is harmless."""
    trial = protocol.complete(request.app.state.db, trial_id, body.lease_token, body.metrics)
    return JSONResponse(views.trial_json(trial))


@router.post("/trials/{trial_id}/fail", response_model=TrialOut)
async def fail(trial_id: TrialId, body: FailRequest, request: Request) -> JSONResponse:
    """The trial failed; with retry it goes back to pending while attempts remain."""
    trial = protocol.fail(request.app.state.db, trial_id, body.lease_token, body.error,
                          body.retry)
    return JSONResponse(views.trial_json(trial))
