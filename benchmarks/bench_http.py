"""A minimal keep-alive HTTP/1.1 JSON client for the benchmarks' simulated workers.

On the 2-core benchmark machine the simulated workers share the CPUs with the
server they measure, so whatever CPU the harness spends is taken from the
server. Per call, httpx spends about 0.6 ms of CPU, more than the server's own
handling of a report; `http.client` about 0.2 ms (most of it parsing headers
with the email package); this client about 0.05 ms. It speaks plain HTTP/1.1
over one TCP connection: a request line, Host, Content-Type and
Content-Length headers and the JSON body; it reads the status line, the
headers and a Content-Length body, and raises on anything else (a chunked
answer, a closed connection). A real fleet's workers run on other machines and
spend their time training.

`AsyncJsonClient` is the same client on asyncio streams, for thousands of simulated
workers in one process (benchmarks/load.py): one connection per simulated worker, as
each real worker keeps its own. Measured on the benchmark machine against the same server
(2,000 heartbeats, 50 concurrent): httpx.AsyncClient spends several times its CPU per call
(benchmarks/README.md, "Load"), CPU the server would not get.
"""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any
from urllib.parse import urlsplit


class JsonClient:
    """JSON requests over one kept-alive HTTP/1.1 connection (no retries: a failure is raised)."""

    def __init__(self, base_url: str, timeout: float = 60, token: str | None = None) -> None:
        parts = urlsplit(base_url)
        self._authorization = f"Authorization: Bearer {token}\r\n" if token else ""
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        self._socket = socket.create_connection((host, port), timeout=timeout)
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._host = f"{host}:{port}"
        self._received = b""

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Send one request; the status and the decoded JSON body (None when empty)."""
        payload = b"" if body is None else json.dumps(body).encode()
        content_type = "" if body is None else "Content-Type: application/json\r\n"
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self._host}\r\n{content_type}"
                f"{self._authorization}"
                f"Content-Length: {len(payload)}\r\n\r\n")
        self._socket.sendall(head.encode() + payload)
        status, length = self._read_head()
        while len(self._received) < length:
            self._receive()
        data, self._received = self._received[:length], self._received[length:]
        return status, json.loads(data) if data else None

    def _read_head(self) -> tuple[int, int]:
        """The answer's status and body length; its head is consumed."""
        while b"\r\n\r\n" not in self._received:
            self._receive()
        head, _, self._received = self._received.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers = dict(line.lower().split(":", 1) for line in lines)
        if "transfer-encoding" in headers:
            raise RuntimeError(f"unsupported answer: {headers['transfer-encoding']} encoding")
        if "content-length" not in headers and status not in (204, 304):
            raise RuntimeError(f"answer {status} has no Content-Length")
        return status, int(headers.get("content-length", 0))

    def _receive(self) -> None:
        chunk = self._socket.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self._received += chunk

    def post(self, path: str, body: Any) -> tuple[int, Any]:
        """POST a JSON body."""
        return self.request("POST", path, body)

    def close(self) -> None:
        """Close the connection."""
        self._socket.close()


class ConnectionDropped(ConnectionError):
    """The connection closed before a whole answer arrived; `answered` says whether any of
    it had (if not, the server may never have read the request)."""

    def __init__(self, message: str, answered: bool) -> None:
        super().__init__(message)
        self.answered = answered


class AsyncJsonClient:
    """JSON requests over one kept-alive HTTP/1.1 connection on asyncio streams.

    The connection is opened at the first request, and opened again when the server
    has closed it in between (after its keep-alive timeout: 65 s for `caviar serve`, 5 s
    for uvicorn's default; as an httpx pool notices and replaces it); `reconnects` counts
    those. A request that fails raises (OSError, ConnectionDropped, asyncio.TimeoutError)
    and drops the connection: retrying is the caller's business, as it is the worker
    client's.
    """

    def __init__(self, base_url: str, timeout: float = 60) -> None:
        parts = urlsplit(base_url)
        self._address = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._host = f"{self._address[0]}:{self._address[1]}".encode()
        self._timeout = timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self.reconnects = 0

    async def post(self, path: str, body: Any) -> tuple[int, Any]:
        """POST a JSON body; the status and the decoded JSON answer (None when empty)."""
        payload = json.dumps(body).encode()
        head = (b"POST " + path.encode() + b" HTTP/1.1\r\nHost: " + self._host
                + b"\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(payload)).encode() + b"\r\n\r\n")
        return await asyncio.wait_for(self._exchange(head + payload), self._timeout)

    async def _exchange(self, request: bytes) -> tuple[int, Any]:
        if self._reader is not None and self._reader.at_eof():
            self.close()
            self.reconnects += 1
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(*self._address)
            sock = self._writer.get_extra_info("socket")
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader, writer = self._reader, self._writer
        try:
            writer.write(request)
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as error:
                raise ConnectionDropped("the server closed the connection before answering",
                                        answered=bool(error.partial)) from None
            status, length, close = _parse_head(head)
            try:
                data = await reader.readexactly(length) if length else b""
            except asyncio.IncompleteReadError:
                raise ConnectionDropped("the server closed the connection mid-answer",
                                        answered=True) from None
        except BaseException:
            self.close()
            raise
        if close:
            self.close()
        return status, json.loads(data) if data else None

    def close(self) -> None:
        """Drop the connection (the next request opens another)."""
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


def _parse_head(head: bytes) -> tuple[int, int, bool]:
    """An answer head's status, body length, and whether the server closes the connection."""
    status_line, *lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    headers = dict(line.lower().split(":", 1) for line in lines)
    if "transfer-encoding" in headers:
        raise RuntimeError(f"unsupported answer: {headers['transfer-encoding']} encoding")
    if "content-length" not in headers and status not in (204, 304):
        raise RuntimeError(f"answer {status} has no Content-Length")
    close = headers.get("connection", "").strip() == "close"
    return status, int(headers.get("content-length", 0)), close
