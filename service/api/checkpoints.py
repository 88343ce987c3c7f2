"""Routes of a paused trial's checkpoint (promotion-based ASHA): the worker told to pause
uploads it, the worker that resumes the trial downloads it.

Both prove the trial is theirs with its lease token. The upload's bytes are read
as they arrive and refused with a 413 once they pass CAVIAR_MAX_CHECKPOINT_BYTES,
before anything is stored; their sha256 is checked against the one sent.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from domain.protocol import Epoch, LeaseToken
from service.api import views
from service.api.access import caller_may
from service.api.deps import API_PREFIX, TrialId
from service.api.errors import documented
from service.api.schemas import TrialOut
from service.auth.roles import Permission

router = APIRouter(prefix=API_PREFIX, tags=["worker protocol"],
                   dependencies=[Depends(caller_may(Permission.WORK))])
Sha256 = Annotated[str, Query(pattern="^[0-9a-f]{64}$", description="the bytes' SHA-256, hex")]
NO_TRIAL = "no trial has this id, or it has no checkpoint"
LEASE_CONFLICT = ("the lease token is not the trial's current one, or the trial is not "
                  "running (or was not told to pause)")


async def _read_limited(request: Request, limit: int) -> bytes:
    """The request's body, or a 413 as soon as it passes the limit."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"the checkpoint is larger than the limit of {limit} bytes "
                            "(CAVIAR_MAX_CHECKPOINT_BYTES)")
    parts, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"the checkpoint is larger than the limit of {limit} "
                                "bytes (CAVIAR_MAX_CHECKPOINT_BYTES)")
        parts.append(chunk)
    return b"".join(parts)


@router.put("/trials/{trial_id}/checkpoint", response_model=TrialOut,
            openapi_extra={"requestBody": {"required": True, "content": {
                "application/octet-stream": {"schema": {"type": "string",
                                                        "format": "binary"}}}}},
            responses=documented({404: NO_TRIAL, 409: LEASE_CONFLICT,
                                  413: "the checkpoint is over the server's limit"}))
async def upload_checkpoint(trial_id: TrialId, request: Request, lease_token: LeaseToken,
                            epoch: Epoch, sha256: Sha256) -> JSONResponse:
    """Store the checkpoint of a trial told to pause (its training state after `epoch`
    epochs, an .npz) and pause the trial; it answers the paused trial."""
    state = request.app.state
    data = await _read_limited(request, state.settings.max_checkpoint_bytes)
    trial = await run_in_threadpool(state.lifecycle.pause, trial_id, lease_token, epoch,
                                    sha256, data)
    return JSONResponse(views.trial_json(trial))


@router.get("/trials/{trial_id}/checkpoint", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}},
                             "description": "the checkpoint's bytes"},
                       **documented({404: NO_TRIAL, 409: LEASE_CONFLICT})})
def download_checkpoint(trial_id: TrialId, request: Request, lease_token: LeaseToken
                        ) -> Response:
    """The checkpoint a resumed trial goes on from, with its SHA-256 in X-Caviar-SHA256 and
    its epochs in X-Caviar-Epoch."""
    epoch, sha256, data = request.app.state.lifecycle.checkpoint(trial_id, lease_token)
    return Response(data, media_type="application/octet-stream", headers={
        "X-Caviar-SHA256": sha256, "X-Caviar-Epoch": str(epoch),
    })
