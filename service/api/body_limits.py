"""Caps on request bodies: every route has one, enforced while the body is read.

| path | cap |
| --- | --- |
| `/api/v1/datasets` (uploads) | `CAVIAR_MAX_UPLOAD_BYTES`, and 64 KiB for the form |
| `/api/v1/trials/{id}/checkpoint` | `CAVIAR_MAX_CHECKPOINT_BYTES` |
| any other | `CAVIAR_MAX_BODY_BYTES` (1 MiB by default) |

A body over its cap is a 413 `{"detail": ...}` naming the limit in bytes and the
setting, answered before anything parses the body: at once, without reading it,
when `Content-Length` declares more than the cap; otherwise (chunked transfer) as
soon as the bytes read pass it. The 413 says `Connection: close`, so that the
server closes the connection instead of reading (and dropping) the rest; so does
any answer given before the end of a chunked body (a route that reads none).

`BodyLimits` is the middleware doing this for every route of the app; the worker
routes served ahead of the middleware (service.api.dispatch) read their bodies
with `read_body`, which applies the same rule (`capped`) through the same table
(`BodyCaps`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.deps import API_PREFIX
from service.settings import Settings

FORM_SLACK = 64 * 1024
"""What an upload's body may hold besides the file: the multipart boundaries and part
headers, the `name` and `label_column` fields (the file itself is held to
CAVIAR_MAX_UPLOAD_BYTES by the route, with a 422 naming it)."""


@dataclass(frozen=True)
class Cap:
    """The most bytes a request body may have, and the setting that says so."""

    limit: int
    setting: str


class BodyTooLarge(HTTPException):
    """A body over its cap: a 413 whose detail names the limit and the setting.

    An HTTPException, so that FastAPI's body parsing lets it through (it turns other
    errors into a 400) and the app's handler answers it as every other error.
    """

    def __init__(self, cap: Cap) -> None:
        super().__init__(413, f"the request body is larger than the limit of {cap.limit} "
                         f"bytes ({cap.setting})", headers={"Connection": "close"})


class BodyCaps:
    """The cap of each path, from the settings (see the module's docstring)."""

    def __init__(self, settings: Settings) -> None:
        self.default = Cap(settings.max_body_bytes, "CAVIAR_MAX_BODY_BYTES")
        self._table = (
            (re.compile(f"^{API_PREFIX}/datasets$"),
             Cap(settings.max_upload_bytes + FORM_SLACK,
                 f"CAVIAR_MAX_UPLOAD_BYTES and {FORM_SLACK} for the form's other parts")),
            (re.compile(f"^{API_PREFIX}/trials/[^/]+/checkpoint$"),
             Cap(settings.max_checkpoint_bytes, "CAVIAR_MAX_CHECKPOINT_BYTES")),
        )

    def of(self, path: str) -> Cap:
        """The cap of a request to the path."""
        for pattern, cap in self._table:
            if pattern.match(path):
                return cap
        return self.default


def declared_length(scope: Scope) -> int | None:
    """The request's Content-Length, if it declares one (the server has checked its form)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def is_chunked(scope: Scope) -> bool:
    """Whether the request's body comes chunked (Transfer-Encoding), its length unknown."""
    return any(name == b"transfer-encoding" for name, _ in scope["headers"])


def capped(scope: Scope, receive: Receive, cap: Cap) -> Receive:
    """`receive`, held to the cap: BodyTooLarge at once if Content-Length declares more,
    otherwise from the call whose bytes, with those before, pass it."""
    declared = declared_length(scope)
    if declared is not None and declared > cap.limit:
        raise BodyTooLarge(cap)
    size = 0

    async def counting() -> Message:
        nonlocal size
        message = await receive()
        size += len(message.get("body", b""))
        if size > cap.limit:
            raise BodyTooLarge(cap)
        return message

    return counting


async def read_body(scope: Scope, receive: Receive, cap: Cap) -> bytes:
    """The whole body, or BodyTooLarge (see `capped`)."""
    receive = capped(scope, receive, cap)
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def refusal(error: BodyTooLarge) -> JSONResponse:
    """The 413 answering a body over its cap (the same as the app's HTTPException handler's)."""
    return JSONResponse({"detail": error.detail}, status_code=error.status_code,
                        headers=error.headers)


class BodyLimits:
    """The middleware holding every request's body to its path's cap."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.caps = BodyCaps(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            receive = capped(scope, receive, self.caps.of(scope["path"]))
        except BodyTooLarge as error:
            await refusal(error)(scope, receive, send)
            return
        if is_chunked(scope):
            unread = UnreadBody(receive, send)
            receive, send = unread.receive, unread.send
        try:
            await self.app(scope, receive, send)
        except BodyTooLarge as error:  # the app's handler answers it; in case none did
            await refusal(error)(scope, receive, send)


class UnreadBody:
    """A chunked body the app may answer without reading to its end (a route that takes no
    body): such an answer says `Connection: close`, so that the server does not read the
    rest, however long, to keep the connection."""

    def __init__(self, receive: Receive, send: Send) -> None:
        self._receive, self._send = receive, send
        self.read = False

    async def receive(self) -> Message:
        message = await self._receive()
        self.read = self.read or not message.get("more_body")
        return message

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start" and not self.read:
            headers = list(message.get("headers", ()))
            if all(name.lower() != b"connection" for name, _ in headers):
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
        await self._send(message)
