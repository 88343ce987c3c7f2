"""A `caviar serve` subprocess's address and readiness, shared by the benchmarks that start
one (benchmarks/bench_serve.py, benchmarks/efficiency.py). It imports nothing from this
folder, so the scripts import it as `bench_process` and the modules as
`benchmarks.bench_process`."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path,
                 timeout: float = 60) -> None:
    """Return once `url`/healthz answers 200; raise with the server's log if the process
    exits first or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"caviar serve exited with {process.returncode}:\n"
                               f"{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"caviar serve not healthy after {timeout:g} s:\n"
                               f"{log.read_text()}")
        time.sleep(0.1)
