"""Real processes for end-to-end tests: `caviar serve` on a free port, `caviar worker`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

WILDCARD_HOSTS = ("0.0.0.0", "::")
"""Listening on these means every address of the machine; the tests ask on loopback."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """A running `caviar serve` process."""

    url: str
    database_url: str
    process: subprocess.Popen
    log: Path

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        """Stop the server and wait for it."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def wait_healthy(url: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    """Poll /healthz until it answers 200; fail with the server's log if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1, verify=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server at {url} not healthy after {timeout}s:\n{log.read_text()}")


def start_server(database_url: str, folder: Path, port: int | None = None,
                 env: dict[str, str] | None = None, args: tuple[str, ...] = (),
                 host: str = "127.0.0.1", scheme: str = "http") -> Server:
    """Start `caviar serve` on `host` with the given database and extra arguments; return
    once it is healthy, asked at `host` (at 127.0.0.1 for a wildcard host)."""
    port = port or free_port()
    log = folder / f"server-{port}-{time.monotonic_ns()}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "caviar", "serve", "--host", host, "--port", str(port),
         "--database-url", database_url, *args],
        stdout=log.open("w"), stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
    )
    asked = "127.0.0.1" if host in WILDCARD_HOSTS else host
    url = f"{scheme}://{asked}:{port}"
    try:
        wait_healthy(url, process, log)
    except BaseException:
        process.kill()
        process.wait()
        raise
    return Server(url=url, database_url=database_url, process=process, log=log)


@contextmanager
def live_server(database_url: str, folder: Path, env: dict[str, str] | None = None,
                **options: Any) -> Iterator[Server]:
    """A `caviar serve` process for the duration of the block (options: start_server's)."""
    server = start_server(database_url, folder, env=env, **options)
    try:
        yield server
    finally:
        server.stop()
