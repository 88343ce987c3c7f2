"""Routes of the worker protocol: claim, heartbeat, report, complete, fail.

These are the server's hot path: a fleet calls them hundreds of times a
second. The app (service.app.CaviarApp) hands their five paths to `serve`
before any middleware or FastAPI's routing runs: it validates bodies with the
same pydantic schemas, answers errors with the same JSON as every other route
and records the same latency metrics, but skips the middleware stack, routing,
request objects and dependency solving, which cost more CPU per call (about
0.13 ms) than a report's database work. The handlers run their short
transactions on the event loop: a hop to the thread pool costs more than the
transaction. `document` adds the routes to /openapi.json.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from domain.errors import Invalid
from service.api import views
from service.api.deps import API_PREFIX, TrialId
from service.api.errors import ANSWERED, INTERNAL_ERROR, clean_errors, error_answer
from service.api.schemas import (
    MAX_ID,
    ActionAnswer,
    Assignment,
    ClaimRequest,
    CompleteRequest,
    FailRequest,
    HeartbeatRequest,
    ReportRequest,
    TrialOut,
)
from service.store.datasets import get_dataset_info
from service.store.searches import uploaded_dataset_id

log = logging.getLogger("caviar.server")
State = Any  # the app's state: db, settings, metrics
Answer = tuple[int, Any]  # status and JSON body (None: no body)


def claim(state: State, _: int | None, body: ClaimRequest) -> Answer:
    """Hand the worker one trial under a new lease, or 204 when there is no work."""
    claimed = state.lifecycle.claim(body.worker_id, body.search_id)
    state.metrics.count_claim("assigned" if claimed else "empty")
    if claimed is None:
        return 204, None
    dataset_id = uploaded_dataset_id(claimed.spec)
    uploaded = get_dataset_info(state.db, dataset_id) if dataset_id is not None else None
    return 200, views.assignment_json(claimed, uploaded, state.settings.heartbeat_seconds)


def heartbeat(state: State, trial_id: int, body: HeartbeatRequest) -> Answer:
    """Extend the lease; answer continue or stop."""
    action = state.lifecycle.heartbeat(trial_id, body.lease_token)
    return 200, views.action_json(action)


def report(state: State, trial_id: int, body: ReportRequest) -> Answer:
    """One or more epochs' metrics; answer continue or stop (early stopping decides here)."""
    action = state.lifecycle.report(trial_id, body.lease_token, body.epochs())
    return 200, views.action_json(action)


def complete(state: State, trial_id: int, body: CompleteRequest) -> Answer:
    """The trial's final metrics; repeating the same call is harmless."""
    trial = state.lifecycle.complete(trial_id, body.lease_token, body.metrics)
    return 200, views.trial_json(trial)


def fail(state: State, trial_id: int, body: FailRequest) -> Answer:
    """The trial failed; with retry it goes back to pending while attempts remain."""
    trial = state.lifecycle.fail(trial_id, body.lease_token, body.error, body.retry)
    return 200, views.trial_json(trial)


@dataclass(frozen=True)
class Route:
    """One POST route: its path template, body schema, handler and answer schema."""

    path: str
    body: type[BaseModel]
    handler: Callable[[State, Any, Any], Answer]
    answer: type[BaseModel]


ROUTES = {
    route.path: route for route in (
        Route(f"{API_PREFIX}/trials/claim", ClaimRequest, claim, Assignment),
        Route(f"{API_PREFIX}/trials/{{trial_id}}/heartbeat", HeartbeatRequest, heartbeat,
              ActionAnswer),
        Route(f"{API_PREFIX}/trials/{{trial_id}}/report", ReportRequest, report, ActionAnswer),
        Route(f"{API_PREFIX}/trials/{{trial_id}}/complete", CompleteRequest, complete,
              TrialOut),
        Route(f"{API_PREFIX}/trials/{{trial_id}}/fail", FailRequest, fail, TrialOut),
    )
}
_TRIAL_PATH = re.compile(rf"^{re.escape(API_PREFIX)}/trials/([^/]+)/(\w+)$")


_TRIAL_ID = TypeAdapter(TrialId)


def _trial_id(text: str) -> int:
    """The path's trial id, validated as FastAPI validates `TrialId`; Invalid names the rule."""
    try:
        return _TRIAL_ID.validate_python(text)
    except ValidationError as error:
        detail = clean_errors(error.errors(), prefix=("path", "trial_id"))[0]
        raise Invalid(detail["loc"], detail["msg"], detail["type"]) from None


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def match(path: str) -> tuple[Route, str | None] | None:
    """The worker route of a POST to path and the trial id as written in it (None for
    claim); None if path is not one of the protocol's."""
    route = ROUTES.get(path)
    if route is not None:
        return route, None
    found = _TRIAL_PATH.match(path)
    if found is None:
        return None
    route = ROUTES.get(f"{API_PREFIX}/trials/{{trial_id}}/{found.group(2)}")
    return None if route is None else (route, found.group(1))


async def serve(state: State, matched: tuple[Route, str | None], scope: Scope,
                receive: Receive, send: Send) -> None:
    """Answer one call of a worker route (as `match` found it) and record its latency."""
    start = time.perf_counter()
    route, trial_text = matched
    try:
        status, answer = _answer(state, route, trial_text, scope, await _read_body(receive))
    except Exception:
        log.exception("%s %s failed", scope["method"], scope["path"])
        status, answer = 500, INTERNAL_ERROR
    response = Response(status_code=status) if answer is None else JSONResponse(
        answer, status_code=status)
    await response(scope, receive, send)
    state.metrics.observe("POST", route.path, time.perf_counter() - start)


def _answer(state: State, route: Route, trial_text: str | None, scope: Scope, body: bytes
            ) -> Answer:
    """The route's answer to the body, or the error answer naming what was wrong."""
    try:
        trial_id = None if trial_text is None else _trial_id(trial_text)
        if b"json" not in dict(scope["headers"]).get(b"content-type", b"json"):
            raise Invalid(["body"], "the body must be JSON (Content-Type: application/json)",
                          "content_type")
        if not body.strip():
            raise Invalid(["body"], "Field required", "missing")
        return route.handler(state, trial_id, route.body.model_validate_json(body))
    except ANSWERED as error:
        return error_answer(error)


def document(app: FastAPI) -> None:
    """Describe the worker protocol's routes in the app's /openapi.json."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        for route in ROUTES.values():
            for model in (route.body, route.answer):
                definition = model.model_json_schema(ref_template="#/components/schemas/{model}")
                schemas.update(definition.pop("$defs", {}))
                schemas[model.__name__] = definition
            operation: dict[str, Any] = {
                "tags": ["worker protocol"],
                "summary": route.handler.__name__.capitalize(),
                "description": route.handler.__doc__,
                "operationId": f"worker_{route.handler.__name__}",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": f"#/components/schemas/{route.body.__name__}"}}}},
                "responses": {
                    "200": {"description": "OK", "content": {"application/json": {
                        "schema": {"$ref": f"#/components/schemas/{route.answer.__name__}"}}}},
                    "404": {"description": "no such trial or search"},
                    "409": {"description": "the lease token is not the trial's current one, "
                                           "or the trial is not running"},
                    "422": {"description": "a field breaks a rule; `detail` names it"},
                },
            }
            if "{trial_id}" in route.path:
                operation["parameters"] = [{
                    "name": "trial_id", "in": "path", "required": True,
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                    "description": "a trial's id"}]
            else:
                operation["responses"]["204"] = {"description": "no work for now"}
            schema.setdefault("paths", {})[route.path] = {"post": operation}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
