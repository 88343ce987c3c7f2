"""A minimal keep-alive JSON client for the benchmarks' simulated workers.

On the 2-core benchmark machine the simulated workers share the CPUs with the
server they measure. httpx spends about 0.6 ms of CPU per call, more than the
server's own handling of a report; `http.client` on one kept-alive connection
spends about a sixth of that, so the measurement is of the server rather than
of the harness. (A real fleet's workers run on other machines and spend their
time training.)
"""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit


class JsonClient:
    """JSON requests over one kept-alive HTTP/1.1 connection (no retries: a failure is raised)."""

    def __init__(self, base_url: str, timeout: float = 60) -> None:
        parts = urlsplit(base_url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        self._connection = http.client.HTTPConnection(host, port, timeout=timeout)

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Send one request; the status and the decoded JSON body (None when empty)."""
        payload = None if body is None else json.dumps(body).encode()
        headers = {} if payload is None else {"Content-Type": "application/json"}
        self._connection.request(method, path, body=payload, headers=headers)
        response = self._connection.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else None

    def post(self, path: str, body: Any) -> tuple[int, Any]:
        """POST a JSON body."""
        return self.request("POST", path, body)

    def close(self) -> None:
        """Close the connection."""
        self._connection.close()
