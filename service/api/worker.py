"""The worker protocol's routes, in one table: claim, heartbeat, report, complete, fail.

`ROUTES` gives each route's path, request body, answer, handler and the
statuses it may answer. `router` makes them FastAPI routes, which serve them
and document them in /openapi.json. They are the server's hot path (a fleet
calls them hundreds of times a second), so service.api.dispatch also serves the
same table ahead of FastAPI's middleware, routing and dependency solving: with
the same bodies, handlers, answers and errors, at about half the server's CPU
per trial (benchmarks/README.md, "Service"). The handlers run their short
transactions on the event loop (a hop to the thread pool costs more than the
transaction) while the database is quick, on threads while it is slow
(service.api.db_calls).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from starlette.datastructures import State
from starlette.responses import JSONResponse, Response

from domain.protocol import (
    Action,
    Assignment,
    ClaimRequest,
    CompleteRequest,
    FailRequest,
    HeartbeatRequest,
    ReportRequest,
)
from service.api import views
from service.api.access import caller_may
from service.api.deps import API_PREFIX, TrialId
from service.api.errors import documented
from service.api.schemas import TrialOut
from service.auth.roles import Permission
from service.store.datasets import get_dataset_info
from service.store.searches import uploaded_dataset_id

Answer = tuple[int, Any]
"""A status and its JSON body (None: no body)."""


def claim(state: State, _: int | None, body: ClaimRequest) -> Answer:
    """Hand the worker one trial under a new lease, or 204 when there is no work."""
    claimed = state.lifecycle.claim(body.worker_id, body.search_id, body.claim_key)
    state.metrics.count_claim("assigned" if claimed else "empty")
    if claimed is None:
        return 204, None
    dataset_id = uploaded_dataset_id(claimed.spec)
    uploaded = get_dataset_info(state.db, dataset_id) if dataset_id is not None else None
    return 200, views.assignment_json(claimed, uploaded, state.settings.heartbeat_seconds)


def heartbeat(state: State, trial_id: int, body: HeartbeatRequest) -> Answer:
    """Extend the lease; answer continue or stop."""
    return 200, views.action_json(state.lifecycle.heartbeat(trial_id, body.lease_token))


def report(state: State, trial_id: int, body: ReportRequest) -> Answer:
    """One or more epochs' metrics; answer continue or stop (early stopping decides here).

    An epoch reported again with the metrics stored for it changes nothing (a retry);
    with other metrics it is a 409 naming the epoch, and nothing of the report is stored.
    """
    action = state.lifecycle.report(trial_id, body.lease_token, body.epochs())
    return 200, views.action_json(action)


def complete(state: State, trial_id: int, body: CompleteRequest) -> Answer:
    """The trial's final metrics; repeating the same call is harmless."""
    return 200, views.trial_json(state.lifecycle.complete(trial_id, body.lease_token,
                                                          body.metrics))


def fail(state: State, trial_id: int, body: FailRequest) -> Answer:
    """The trial failed; with retry it goes back to pending while attempts remain."""
    trial = state.lifecycle.fail(trial_id, body.lease_token, body.error, body.retry)
    return 200, views.trial_json(trial)


@dataclass(frozen=True)
class WorkerRoute:
    """One POST route of the worker protocol."""

    path: str
    body: type[BaseModel]
    answer: type[BaseModel]
    handler: Callable[[State, Any, Any], Answer]
    statuses: dict[int, str]

    @property
    def name(self) -> str:
        """The handler's name: claim, heartbeat, ..."""
        return self.handler.__name__


NO_TRIAL = "no trial has this id"
LEASE_CONFLICT = ("the lease token is not the trial's current one (the lease expired or the "
                  "trial was handed to another worker), or the trial is not running: drop it")
EPOCH_CONFLICT = ("an epoch already stored is reported again with different metrics (the "
                  "detail names the epoch); the same metrics again are a 200 that changes "
                  "nothing")
ROUTES = (
    WorkerRoute(f"{API_PREFIX}/trials/claim", ClaimRequest, Assignment, claim,
                {204: "no work for now", 404: "no search has this id"}),
    WorkerRoute(f"{API_PREFIX}/trials/{{trial_id}}/heartbeat", HeartbeatRequest, Action,
                heartbeat, {404: NO_TRIAL, 409: LEASE_CONFLICT}),
    WorkerRoute(f"{API_PREFIX}/trials/{{trial_id}}/report", ReportRequest, Action, report,
                {404: NO_TRIAL, 409: f"{LEASE_CONFLICT}; or {EPOCH_CONFLICT}"}),
    WorkerRoute(f"{API_PREFIX}/trials/{{trial_id}}/complete", CompleteRequest, TrialOut,
                complete, {404: NO_TRIAL, 409: LEASE_CONFLICT}),
    WorkerRoute(f"{API_PREFIX}/trials/{{trial_id}}/fail", FailRequest, TrialOut, fail,
                {404: NO_TRIAL, 409: LEASE_CONFLICT}),
)


def respond(answer: Answer) -> Response:
    """The HTTP response of a handler's answer."""
    status, body = answer
    return Response(status_code=status) if body is None else JSONResponse(body, status)


def _endpoint(route: WorkerRoute) -> Callable[..., Awaitable[Response]]:
    """A FastAPI endpoint calling the route's handler; its annotations tell FastAPI the body
    (and the trial id in the path) to validate and document."""
    if "{trial_id}" in route.path:
        async def on_trial(trial_id: Any, body: Any, request: Request) -> Response:
            state = request.app.state
            return respond(await state.db_calls.run(partial(route.handler, state, trial_id,
                                                            body)))

        on_trial.__annotations__.update(trial_id=TrialId, body=route.body)
        return on_trial

    async def on_search(body: Any, request: Request) -> Response:
        state = request.app.state
        return respond(await state.db_calls.run(partial(route.handler, state, None, body)))

    on_search.__annotations__.update(body=route.body)
    return on_search


router = APIRouter(tags=["worker protocol"], dependencies=[Depends(caller_may(Permission.WORK))])
for _route in ROUTES:
    router.add_api_route(
        _route.path, _endpoint(_route), methods=["POST"], response_model=_route.answer,
        responses=documented(_route.statuses), name=_route.name,
        summary=_route.name.capitalize(), description=_route.handler.__doc__,
        operation_id=f"worker_{_route.name}")
