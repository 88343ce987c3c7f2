"""Routes of trials: one trial with its per-epoch rows; a user's stop."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from service.api import views
from service.api.access import ChangeableTrial, ReadableTrial
from service.api.deps import API_PREFIX, database, lifecycle
from service.api.errors import documented
from service.api.schemas import TrialOut, TrialWithIntermediate
from service.db.session import Database
from service.store import trials
from service.store.lifecycle import Lifecycle

router = APIRouter(prefix=API_PREFIX, tags=["trials"])
NO_TRIAL = "no trial has this id"


@router.get("/trials/{trial_id}", response_model=TrialWithIntermediate,
            responses=documented({404: NO_TRIAL}))
def get_trial(trial_id: ReadableTrial, db: Annotated[Database, Depends(database)]) -> JSONResponse:
    """One trial with its intermediate rows (one per epoch)."""
    trial, rows = trials.get_trial(db, trial_id)
    return JSONResponse({**views.trial_json(trial),
                         "intermediate": [views.intermediate_json(r) for r in rows]})


@router.post("/trials/{trial_id}/stop", response_model=TrialOut,
             responses=documented({404: NO_TRIAL, 409: "the trial is not running"}))
def stop_trial(trial_id: ChangeableTrial, store: Annotated[Lifecycle, Depends(lifecycle)]
               ) -> JSONResponse:
    """Ask a running trial to stop; its worker hears it at its next report or heartbeat."""
    return JSONResponse(views.trial_json(store.stop(trial_id)))
