"""A server and workers as child processes on this machine, for `caviar demo`."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from caviar.errors import UsageError
from caviar.readiness import ServerNotReady, free_port, wait_healthy


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
        try:
            wait_healthy(self.url, self.server, log, timeout)
        except ServerNotReady as error:
            raise UsageError(str(error)) from None

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
