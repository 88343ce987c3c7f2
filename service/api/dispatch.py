"""The worker routes served ahead of FastAPI: the same table, less CPU per call.

`WorkerDispatch` answers a POST to one of service.api.worker.ROUTES before the
app's middleware, routing and dependency solving run. It matches the route's
path template as Starlette does, lets the caller in as the guard and the route's
permission do (service.auth.guard, service.api.access), validates the trial id with the same
annotated type as FastAPI (`TrialId`) and the body with the route's model
(from the raw bytes, which pydantic parses faster than `json.loads` and a
validation of the result), calls the route's handler (on the event loop, or on a
thread while the database is slow: service.api.db_calls), answers errors with the
same JSON as every other route (service.api.errors), and records the same
latency metric. It reads the body held to the same cap as every other route's
(service.api.body_limits.read_body): a 413 before anything is parsed. The
FastAPI routes of the same table remain the documented reference: the
protocol's tests run through both (tests/service/conftest.py).
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from functools import partial

from pydantic import TypeAdapter, ValidationError
from starlette.datastructures import State
from starlette.routing import compile_path
from starlette.types import Receive, Scope, Send

from domain.error_format import clean_errors
from domain.errors import Invalid
from service.api.access import forbidden
from service.api.body_limits import BodyCaps, BodyTooLarge, read_body, refusal
from service.api.deps import TrialId
from service.api.errors import ANSWERED, INTERNAL_ERROR, NOT_JSON, error_answer, is_json
from service.api.worker import Answer, WorkerRoute, respond
from service.auth.guard import Refused, refusal_response
from service.auth.roles import Permission

log = logging.getLogger("caviar.server")
_TRIAL_ID = TypeAdapter(TrialId)


@dataclass(frozen=True)
class Matched:
    """A request to a worker route: the route and the trial id as written in the path."""

    route: WorkerRoute
    trial_text: str | None


class WorkerDispatch:
    """Serves the worker routes of a table (see the module's docstring)."""

    def __init__(self, routes: tuple[WorkerRoute, ...]) -> None:
        self._paths: list[tuple[re.Pattern[str], WorkerRoute]] = [
            (compile_path(route.path)[0], route) for route in routes]
        self._caps: BodyCaps | None = None  # from the app's settings, at the first call

    def match(self, scope: Scope) -> Matched | None:
        """The worker route a request is for, if it is a POST to one."""
        if scope["type"] != "http" or scope["method"] != "POST":
            return None
        path = scope["path"]
        for pattern, route in self._paths:
            found = pattern.match(path)
            if found is not None:
                return Matched(route, found.groupdict().get("trial_id"))
        return None

    async def serve(self, state: State, matched: Matched, scope: Scope, receive: Receive,
                    send: Send) -> None:
        """Answer one call and record its latency."""
        start = time.perf_counter()
        route = matched.route
        caps = self._caps or self._caps_of(state)
        try:
            caller = state.guard.caller(scope["headers"])
            if not caller.may(Permission.WORK):
                raise forbidden(caller, Permission.WORK)
            body = await read_body(scope, receive, caps.of(scope["path"]))
            response = respond(await state.db_calls.run(
                partial(_answer, state, matched, scope, body)))
        except ANSWERED as error:  # a call shed before it ran (service.api.db_calls)
            response = respond(error_answer(error))
        except Refused as refused:
            response = refusal_response(refused)
        except BodyTooLarge as error:
            response = refusal(error)
        except Exception:
            log.exception("%s %s failed", scope["method"], scope["path"])
            response = respond((500, INTERNAL_ERROR))
        await response(scope, receive, send)
        state.metrics.observe("POST", route.path, time.perf_counter() - start)

    def _caps_of(self, state: State) -> BodyCaps:
        self._caps = BodyCaps(state.settings)
        return self._caps


def _answer(state: State, matched: Matched, scope: Scope, body: bytes) -> Answer:
    """The route's answer to the body, or the error answer naming what was wrong."""
    try:
        trial_id = None if matched.trial_text is None else _trial_id(matched.trial_text)
        if not body.strip():
            raise Invalid(["body"], "Field required", "missing")
        headers = dict(scope["headers"])
        if not is_json(headers.get(b"content-type", b"").decode("latin-1")):
            raise NOT_JSON
        return matched.route.handler(state, trial_id, matched.route.body.model_validate_json(
            body))
    except ANSWERED as error:
        return error_answer(error)


def _trial_id(text: str) -> int:
    """The path's trial id, validated as FastAPI validates `TrialId`; Invalid names the rule."""
    try:
        return _TRIAL_ID.validate_python(text)
    except ValidationError as error:
        detail = clean_errors(error.errors(), prefix=("path", "trial_id"))[0]
        raise Invalid(detail["loc"], detail["msg"], detail["type"]) from None
