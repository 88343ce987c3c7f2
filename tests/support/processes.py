"""Real processes for end-to-end tests: `caviar serve` on a free port, `caviar worker`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from caviar import readiness
from caviar.readiness import free_port

WILDCARD_HOSTS = ("0.0.0.0", "::")
"""Listening on these means every address of the machine; the tests ask on loopback."""


def child_pids(pid: int) -> list[int]:
    """The direct children of process `pid` (Linux)."""
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


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
    """caviar.readiness.wait_healthy for a test server: a self-signed certificate passes,
    and a failure shows the server's whole log."""
    readiness.wait_healthy(url, process, log, timeout, verify=False, log_lines=10_000)


def launch_server(database_url: str, folder: Path, port: int | None = None,
                  env: dict[str, str] | None = None, args: tuple[str, ...] = (),
                  host: str = "127.0.0.1", scheme: str = "http") -> Server:
    """Start `caviar serve` on `host` with the given database and extra arguments; return
    at once, without waiting for it to answer. Its URL is at `host` (at 127.0.0.1 for a
    wildcard host)."""
    port = port or free_port()
    log = folder / f"server-{port}-{time.monotonic_ns()}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "caviar", "serve", "--host", host, "--port", str(port),
         "--database-url", database_url, *args],
        stdout=log.open("w"), stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
    )
    asked = "127.0.0.1" if host in WILDCARD_HOSTS else host
    return Server(url=f"{scheme}://{asked}:{port}", database_url=database_url,
                  process=process, log=log)


def start_server(database_url: str, folder: Path, port: int | None = None,
                 env: dict[str, str] | None = None, args: tuple[str, ...] = (),
                 host: str = "127.0.0.1", scheme: str = "http") -> Server:
    """Start `caviar serve` (launch_server's arguments); return once it is healthy."""
    server = launch_server(database_url, folder, port, env, args, host, scheme)
    try:
        wait_healthy(server.url, server.process, server.log)
    except BaseException:
        server.process.kill()
        server.process.wait()
        raise
    return server


@contextmanager
def live_server(database_url: str, folder: Path, env: dict[str, str] | None = None,
                **options: Any) -> Iterator[Server]:
    """A `caviar serve` process for the duration of the block (options: start_server's)."""
    server = start_server(database_url, folder, env=env, **options)
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def live_servers(count: int, database_url: str, folder: Path, **options: Any
                 ) -> Iterator[list[Server]]:
    """`count` `caviar serve` processes on one database, all launched before any is asked
    whether it is healthy (they start at the same moment), for the duration of the block."""
    servers: list[Server] = []
    try:
        for _ in range(count):
            servers.append(launch_server(database_url, folder, **options))
        for server in servers:
            wait_healthy(server.url, server.process, server.log)
        yield servers
    finally:
        for server in servers:
            server.stop()
