"""The benchmarks' servers and databases: fresh SQLite files or PostgreSQL databases, and
`caviar serve` run as a subprocess on a free loopback port.

Shared by benchmarks/service.py and benchmarks/load.py. Like them it speaks HTTP and
plain SQL only: it must not import the server package (see benchmarks/service.py).
"""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from bench_cpu import process_tree_cpu  # this folder

from caviar.readiness import free_port, wait_healthy

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = os.environ.get(
    "CAVIAR_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def is_loopback_url(url: str) -> bool:
    """Whether the URL's host is a loopback address (or `localhost`)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextmanager
def fresh_database(kind: str, folder: Path) -> Iterator[str]:
    """A new SQLite file or a new PostgreSQL database (dropped afterwards); its SQLAlchemy URL.

    On PostgreSQL a CHECKPOINT follows the CREATE DATABASE, so that the writes of what
    ran before (a dropped database's, the last run's) are flushed before this one starts:
    without it, whichever run came first after a drop paid for them (0.6x in a round).
    """
    name = f"caviar_bench_{uuid.uuid4().hex[:12]}"
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'{name}.db'}"
        return
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        admin.execute("CHECKPOINT")
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass(frozen=True)
class Served:
    """A running `caviar serve`: its base URL and process id."""

    url: str
    pid: int
    tokens: dict[str, str] | None = None  # role -> token, when the server requires them

    def headers(self, role: str) -> dict[str, str]:
        """The Authorization header of the role's token (none on an open server)."""
        return {} if self.tokens is None else {"Authorization": f"Bearer {self.tokens[role]}"}

    def token(self, role: str) -> str | None:
        """The role's token, or None on an open server."""
        return None if self.tokens is None else self.tokens[role]

    def cpu_seconds(self) -> float:
        """CPU time the server has used so far, its worker processes included."""
        return process_tree_cpu(self.pid)


@contextmanager
def caviar_server(database_url: str, folder: Path, max_trials: int, processes: int = 1,
                  root: Path = ROOT, tokens: bool = False) -> Iterator[Served]:
    """`caviar serve --workers PROCESSES` on a free loopback port for the block, run from the
    checkout at `root` (its code, this environment's packages); with `tokens`, the server
    requires them (an admin's and a worker's, made on the database first; rate limits out of
    the way)."""
    port = free_port()
    log = folder / f"server-{port}.log"
    env = {**os.environ, "CAVIAR_MAX_TRIALS": str(max_trials), "PYTHONPATH": str(root)}
    made = None
    if tokens:
        made = {role: make_token(database_url, role, env) for role in ("admin", "worker")}
        env.update(CAVIAR_AUTH="required", CAVIAR_RATE_LIMIT="1000000",
                   CAVIAR_WORKER_RATE_LIMIT="1000000")
    process = subprocess.Popen(
        [sys.executable, "-m", "caviar", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--database-url", database_url, "--log-level", "warning",
         "--workers", str(processes)],
        cwd=root, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, log)
        yield Served(url, process.pid, made)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def make_token(database_url: str, role: str, env: dict[str, str]) -> str:
    """A new token of the role on the database (`caviar token create --database-url`)."""
    done = subprocess.run([sys.executable, "-m", "caviar", "token", "create", "--role", role,
                           "--name", f"bench-{role}", "--database-url", database_url],
                          env=env, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout.strip()
