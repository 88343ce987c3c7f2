"""A `caviar serve` child process's port and readiness: one home for `caviar demo`, the
tests that start real servers, and the benchmarks that do."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import httpx

POLL_SECONDS = 0.1


class ServerNotReady(RuntimeError):
    """The server exited, or did not answer /healthz in time; the message says which and
    ends with the last lines of its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, lines: int) -> str:
    """The last `lines` lines of a log file ("" if it cannot be read)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60,
                 verify: bool = True, log_lines: int = 15) -> None:
    """Return once `url`/healthz answers 200. Raise ServerNotReady, with the last
    `log_lines` lines of the server's log, if the process exits first or `timeout` seconds
    pass. `verify` False accepts a self-signed certificate (an https test server)."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise ServerNotReady(f"the server exited with code {process.returncode}:\n"
                                 f"{log_tail(log, log_lines)}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1, verify=verify).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise ServerNotReady(f"the server at {url} did not answer within {timeout:g} s:\n"
                                 f"{log_tail(log, log_lines)}")
        time.sleep(POLL_SECONDS)
