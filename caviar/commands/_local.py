"""A server and workers as child processes on this machine, for `caviar demo`."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from caviar.errors import UsageError


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class LocalFleet:
    """`caviar serve` with a SQLite file in `folder`, and `caviar worker` processes."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder = folder
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server: subprocess.Popen | None = None
        self.workers: subprocess.Popen | None = None

    def start_server(self, timeout: float = 60) -> None:
        """Start the server and wait until /healthz answers."""
        log = self.folder / "server.log"
        database = f"sqlite:///{self.folder / 'caviar.db'}"
        self.server = subprocess.Popen(
            [sys.executable, "-m", "caviar", "serve", "--host", "127.0.0.1",
             "--port", str(self.port), "--database-url", database],
            stdout=log.open("w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            process_group=0,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise UsageError(f"the server exited with code {self.server.returncode}:\n"
                                 f"{_tail(log)}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise UsageError(f"the server did not answer within {timeout:.0f} s:\n{_tail(log)}")

    def start_workers(self, processes: int) -> None:
        """`caviar worker --processes N` against the server, logging to workers.log."""
        log = self.folder / "workers.log"
        self.workers = subprocess.Popen(
            [sys.executable, "-m", "caviar", "worker", "--server", self.url,
             "--processes", str(processes)],
            stdout=log.open("w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            process_group=0,
        )

    def stop(self) -> None:
        """Stop the workers (they give back running trials), then the server.

        Another Ctrl-C while they stop kills them at once: nothing is left running
        (worker processes whose pool process is gone give their trials back and exit).
        """
        running = [p for p in (self.workers, self.server) if p is not None]
        try:
            for process in running:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    process.wait(20)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            for process in running:
                if process.poll() is None:
                    process.kill()
                    process.wait()
