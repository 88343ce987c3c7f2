"""Error answers: every failure is JSON `{"detail": ...}` with the right status.

Bad input is a 422, 404 or 409, never a 500; a bug of the server's own is a 500
with a JSON body too, its traceback in the log.

A database that does not answer (down, restarting, a lock held past the
server's CAVIAR_DB_TIMEOUT_SECONDS) or cannot store a write (SQLite's "database
or disk is full") is a 503 whose detail says why, which clients retry
(service.db.outage).

A 422's detail is a list of `{"loc", "msg", "type"}` (only these keys, so the
body is always JSON-serializable; `domain.error_format.clean_errors` builds them, and the
CLI prints its own check of a spec from the same items); 404 and 409 carry a sentence.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from domain.error_format import clean_errors
from domain.errors import Conflict, Invalid, NotFound
from service.auth.guard import Refused, refusal_response
from service.db.outage import UNAVAILABLE, unavailable


class ErrorAnswer(BaseModel):
    """The body of a 401, 403, 404, 409, 413, 429, 500 or 503: a sentence."""

    detail: str


class FieldError(BaseModel):
    """One broken rule of a 422: where (`loc`, e.g. ["body", "budget", "max_trials"]; its
    first item is the part of the request: body, query or path) and which."""

    loc: list[str | int]
    msg: str
    type: str


class InvalidAnswer(BaseModel):
    """The body of a 422: every broken rule."""

    detail: list[FieldError]


EVERY_ROUTE = {
    401: ("no token, or not a valid one (a server that requires tokens)", ErrorAnswer),
    403: ("the token's role may not do this; `detail` names the permission", ErrorAnswer),
    429: ("too many requests for this token; retry after `Retry-After` seconds",
          ErrorAnswer),
    422: ("a field breaks a rule; `detail` names each", InvalidAnswer),
    413: ("the body is over the server's cap; `detail` names it", ErrorAnswer),
    500: ("a bug of the server's own; its traceback is in the server's log", ErrorAnswer),
    503: ("the database is unavailable (retry later); `detail` says why", ErrorAnswer),
}
"""The statuses any route may answer, besides its own."""


def documented(statuses: dict[int, str], takes_input: bool = True
               ) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` of a route: the statuses it answers besides its success (with
    what each means), and those of EVERY_ROUTE (without 422 for a route that takes no
    input); a 4xx or 5xx body is an ErrorAnswer."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status, description in statuses.items():
        responses[status] = {"description": description}
        if status >= 400:
            responses[status]["model"] = ErrorAnswer
    for status, (description, model) in EVERY_ROUTE.items():
        if status != 422 or takes_input:
            responses.setdefault(status, {"description": description, "model": model})
    return responses


NOT_JSON = Invalid(["body"], "the body must be JSON (Content-Type: application/json)",
                   "content_type")


def is_json(content_type: str | None) -> bool:
    """Whether a Content-Type header names JSON (application/json, or application/...+json)."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/")
                                           and media.endswith("+json"))


def unprocessable(errors: list[dict[str, Any]]) -> JSONResponse:
    """A 422 answer with the given error items."""
    return JSONResponse({"detail": errors}, status_code=422)


ANSWERED = (ValidationError, Invalid, NotFound, Conflict, *UNAVAILABLE)
INTERNAL_ERROR = {"detail": "internal server error"}  # the body of any 500


def error_answer(exc: Exception) -> tuple[int, dict[str, Any]]:
    """The status and JSON body answering one of the ANSWERED errors.

    A pydantic ValidationError is taken to be about the request body.
    """
    if isinstance(exc, ValidationError):
        return 422, {"detail": clean_errors(exc.errors(), prefix=("body",))}
    if isinstance(exc, Invalid):
        return 422, {"detail": [exc.as_detail()]}
    if isinstance(exc, NotFound):
        return 404, {"detail": str(exc)}
    if isinstance(exc, Conflict):
        return 409, {"detail": str(exc)}
    if isinstance(exc, UNAVAILABLE):
        return 503, {"detail": unavailable(exc)}
    raise TypeError(f"no answer for {type(exc).__name__}") from exc


def install_error_handlers(app: FastAPI) -> None:
    """Map request validation, the store's errors and HTTP errors to JSON answers."""

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        documented_here = app.openapi()["paths"].get(request.url.path)
        if documented_here is not None and request.method.lower() not in documented_here:
            # A template route took a path documented as written, for another method
            # (GET /trials/claim matched GET /trials/{trial_id}): the path takes no GET.
            allowed = allowed_methods(app, request.url.path) or []
            return JSONResponse({"detail": "Method Not Allowed"}, status_code=405,
                                headers={"Allow": ", ".join(allowed)})
        errors = exc.errors()
        body_refused = any(tuple(error["loc"]) == ("body",) for error in errors)
        if body_refused and not is_json(request.headers.get("content-type")):
            return unprocessable([NOT_JSON.as_detail()])
        return unprocessable(clean_errors(
            {**error, "msg": f"Invalid JSON: {error['ctx']['error']}"}
            if error["type"] == "json_invalid" and "error" in error.get("ctx", {}) else error
            for error in errors))

    async def _answer(_: Request, exc: Exception) -> JSONResponse:
        status, body = error_answer(exc)
        return JSONResponse(body, status_code=status)

    for error in ANSWERED:
        app.add_exception_handler(error, _answer)

    @app.exception_handler(Refused)
    async def _refused(_: Request, exc: Refused) -> JSONResponse:
        return refusal_response(exc)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, __: Exception) -> JSONResponse:
        # Starlette's outermost middleware answers with this, then re-raises for the log.
        return JSONResponse(INTERNAL_ERROR, status_code=500)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # a body the framework could not parse at all
            return unprocessable([{"loc": ["body"], "msg": str(exc.detail),
                                   "type": "body_invalid"}])
        headers = getattr(exc, "headers", None)
        allowed = allowed_methods(app, request.url.path) if exc.status_code == 405 else None
        if allowed is not None:
            headers = {"Allow": ", ".join(allowed)}
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                            headers=headers)


def allowed_methods(app: FastAPI, path: str) -> list[str] | None:
    """The methods /openapi.json documents at the path, for a 405's `Allow` (None if it
    documents none there).

    Starlette would name only the methods of the first route whose path matched. A
    path documented as written counts before templates: `/trials/claim` takes POST,
    though `/trials/{trial_id}` (GET) matches its text too.
    """
    matching = {template: operations for template, operations in app.openapi()["paths"].items()
                if _path_pattern(template).match(path)}
    chosen = [matching[path]] if path in matching else list(matching.values())
    methods = {method.upper() for operations in chosen for method in operations}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods) or None


@cache
def _path_pattern(template: str) -> re.Pattern[str]:
    return compile_path(template)[0]
