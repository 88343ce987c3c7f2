"""Error answers: every failure is JSON `{"detail": ...}` with the right status, never a 500.

A database that does not answer (a lost connection, a lock held too long) is
a 503, which clients retry.

A 422's detail is a list of `{"loc", "msg", "type"}` (only these keys, so the
body is always JSON-serializable); 404 and 409 carry a sentence.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.errors import Conflict, Invalid, NotFound


def clean_errors(errors: Iterable[Any], prefix: Sequence[str | int] = ()) -> list[dict]:
    """Pydantic errors reduced to loc, msg and type; loc prefixed (e.g. with "body")."""
    return [
        {"loc": [*prefix, *error["loc"]], "msg": str(error["msg"]), "type": str(error["type"])}
        for error in errors
    ]


def unprocessable(errors: list[dict]) -> JSONResponse:
    """A 422 answer with the given error items."""
    return JSONResponse({"detail": errors}, status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    """Map request validation, the store's errors and HTTP errors to JSON answers."""

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return unprocessable(clean_errors(exc.errors()))

    @app.exception_handler(ValidationError)
    async def _model_invalid(_: Request, exc: ValidationError) -> JSONResponse:
        return unprocessable(clean_errors(exc.errors(), prefix=("body",)))

    @app.exception_handler(Invalid)
    async def _invalid(_: Request, exc: Invalid) -> JSONResponse:
        return unprocessable([exc.as_detail()])

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(Conflict)
    async def _conflict(_: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(OperationalError)
    async def _database_unavailable(_: Request, exc: OperationalError) -> JSONResponse:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        return JSONResponse({"detail": f"the database is unavailable: {reason}"},
                            status_code=503)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # a body the framework could not parse at all
            return unprocessable([{"loc": ["body"], "msg": str(exc.detail),
                                   "type": "body_invalid"}])
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))
