"""Error answers: every failure is JSON `{"detail": ...}` with the right status.

Bad input is a 422, 404 or 409, never a 500; a bug of the server's own is a 500
with a JSON body too, its traceback in the log.

A database that does not answer (a lost connection, a lock held too long) is
a 503, which clients retry.

A 422's detail is a list of `{"loc", "msg", "type"}` (only these keys, so the
body is always JSON-serializable; `domain.error_format.clean_errors` builds them, and the
CLI prints its own check of a spec from the same items); 404 and 409 carry a sentence.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.error_format import clean_errors
from domain.errors import Conflict, Invalid, NotFound


def unprocessable(errors: list[dict[str, Any]]) -> JSONResponse:
    """A 422 answer with the given error items."""
    return JSONResponse({"detail": errors}, status_code=422)


ANSWERED = (ValidationError, Invalid, NotFound, Conflict, OperationalError)
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
    if isinstance(exc, OperationalError):
        reason = str(exc.orig or exc).strip().splitlines()[0]
        return 503, {"detail": f"the database is unavailable: {reason}"}
    raise TypeError(f"no answer for {type(exc).__name__}") from exc


def install_error_handlers(app: FastAPI) -> None:
    """Map request validation, the store's errors and HTTP errors to JSON answers."""

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return unprocessable(clean_errors(exc.errors()))

    async def _answer(_: Request, exc: Exception) -> JSONResponse:
        status, body = error_answer(exc)
        return JSONResponse(body, status_code=status)

    for error in ANSWERED:
        app.add_exception_handler(error, _answer)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, __: Exception) -> JSONResponse:
        # Starlette's outermost middleware answers with this, then re-raises for the log.
        return JSONResponse(INTERNAL_ERROR, status_code=500)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # a body the framework could not parse at all
            return unprocessable([{"loc": ["body"], "msg": str(exc.detail),
                                   "type": "body_invalid"}])
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))
