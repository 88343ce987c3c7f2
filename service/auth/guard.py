"""Authentication of every request: the bearer token, its caller, and its rate.

`Guard.caller(headers)` turns a request's headers into its `Caller`, or raises
`Refused` (401 without a valid token, 429 over the token's rate, 503 when the
database cannot look the token up: the refusals are answered outside the app's
error handlers, so the guard turns a database error into its answer itself). The
`GuardMiddleware` runs it for every protected path before the app reads the
body; service.api.dispatch runs it for the worker routes it serves ahead of
the middleware. Routes then check the caller's permission and owner
(service.api.access).

A token's caller is cached for `CACHE_SECONDS`, so a request costs a hash and a
dictionary lookup, not a query; a revoked token is refused by the server that
revoked it at once and by other servers within `CACHE_SECONDS`. A token's
last use is written at most once a `TOUCH_SECONDS`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from domain.roles import Role
from service.auth.rate_limit import RateLimiter, retry_after
from service.auth.roles import OPEN_CALLER, Caller
from service.auth.tokens import caller_of, mark_used, token_hash
from service.db.models import utcnow
from service.db.outage import UNAVAILABLE, unavailable
from service.db.session import Database

log = logging.getLogger("caviar.server")

CACHE_SECONDS = 5.0
TOUCH_SECONDS = 60.0
MAX_CACHED = 10_000
MAX_TOKEN_CHARACTERS = 512
PROTECTED_PATHS = ("/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")
"""Paths outside /api/ that need a token too. /healthz and the dashboard's files (its
sign-in page and assets, which hold no data) do not."""
HOW_TO_SIGN_IN = ("send `Authorization: Bearer <token>` (the CLI and workers read "
                  "CAVIAR_TOKEN; `caviar token create` makes a token)")


@dataclass
class Refused(Exception):
    """A request refused before its route runs: the status, a sentence, and headers."""

    status: int
    detail: str
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.detail


def unauthorized(detail: str) -> Refused:
    """A 401 with the challenge that names the scheme; the connection is closed, so the
    server reads nothing more of a caller it does not know (a body sent with it)."""
    return Refused(401, detail, {"WWW-Authenticate": "Bearer", "Connection": "close"})


def is_protected(path: str) -> bool:
    """Whether a path needs a token when the server requires one."""
    return path.startswith("/api/") or path in PROTECTED_PATHS


def bearer_token(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The token of an `Authorization: Bearer` header, or Refused (401) naming what is
    missing or malformed."""
    for name, value in headers:
        if name.lower() == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            token = token.strip()
            if scheme.lower() != "bearer" or not token:
                raise unauthorized(f"the Authorization header must be `Bearer <token>`; "
                                   f"{HOW_TO_SIGN_IN}")
            if len(token) > MAX_TOKEN_CHARACTERS:
                raise unauthorized("the token is not valid (unknown or revoked)")
            return token
    raise unauthorized(f"this server requires a token: {HOW_TO_SIGN_IN}")


@dataclass
class _Cached:
    caller: Caller | None
    until: float


class Guard:
    """The callers of requests to one server process (see the module's docstring).

    `required` False: every request is the open caller (a server without tokens).
    """

    def __init__(self, db: Database, required: bool, rates: dict[Role, float],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.required = required
        self._limits = {role: RateLimiter(rate, burst=max(10.0, 2 * rate))
                        for role, rate in rates.items()}
        self._clock = clock
        self._cache: dict[str, _Cached] = {}
        self._touched: dict[int, float] = {}

    def caller(self, headers: Iterable[tuple[bytes, bytes]]) -> Caller:
        """The request's caller, or Refused (401 or 429)."""
        if not self.required:
            return OPEN_CALLER
        token = bearer_token(headers)
        now = self._clock()
        caller = self._lookup(token, now)
        if caller is None:
            raise unauthorized("the token is not valid (unknown or revoked)")
        assert caller.token_id is not None
        wait = self._limits[caller.role].wait(caller.token_id, now)
        if wait:
            raise Refused(429, f"too many requests for token {caller.name!r} (role "
                          f"{caller.role}): at most {self._limits[caller.role].rate:g} a "
                          f"second; retry after {wait:.2f} s",
                          {"Retry-After": retry_after(wait)})
        self._touch(caller.token_id, now)
        return caller

    def forget(self, token_id: int) -> None:
        """Drop a token's cached caller (it was revoked here)."""
        self._cache = {key: entry for key, entry in self._cache.items()
                       if entry.caller is None or entry.caller.token_id != token_id}

    def _lookup(self, token: str, now: float) -> Caller | None:
        key = token_hash(token)
        cached = self._cache.get(key)
        if cached is None or cached.until < now:
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
            try:
                caller = caller_of(self.db, token)
            except UNAVAILABLE as error:
                raise Refused(503, unavailable(error)) from None
            cached = self._cache[key] = _Cached(caller, now + CACHE_SECONDS)
        return cached.caller

    def _touch(self, token_id: int, now: float) -> None:
        last = self._touched.get(token_id)
        if last is not None and now - last < TOUCH_SECONDS:
            return
        self._touched[token_id] = now
        try:
            mark_used(self.db, token_id, utcnow())
        except Exception:  # noqa: BLE001 - a busy database must not refuse the request
            log.warning("could not record the last use of token %d", token_id, exc_info=True)


class GuardMiddleware:
    """Puts each protected request's caller in `scope["state"]["caller"]`, or answers the
    refusal as JSON before anything reads the body."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_protected(scope["path"]):
            try:
                caller = self.guard.caller(scope["headers"])
            except Refused as refused:
                await refusal_response(refused)(scope, receive, send)
                return
            scope.setdefault("state", {})["caller"] = caller
        await self.app(scope, receive, send)


def refusal_response(refused: Refused) -> JSONResponse:
    """The JSON answer of a refusal."""
    return JSONResponse({"detail": refused.detail}, status_code=refused.status,
                        headers=refused.headers)
