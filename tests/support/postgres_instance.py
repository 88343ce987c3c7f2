"""A PostgreSQL server of the test's own, which it may stop and start at will.

The shared cluster on 127.0.0.1:5432 serves every other test and must never be
restarted; a test that takes the database away mid-search runs its own instance
instead: Debian's binaries (/usr/lib/postgresql/*/bin), `initdb` into a fresh
directory, trust authentication on 127.0.0.1, a free port. PostgreSQL refuses to
run as root, so every command runs as the `postgres` OS user through `runuser`,
which needs root: the suite runs as root in CI, and says so when it is not.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import free_port

OS_USER = "postgres"


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's bin directory; RuntimeError naming what is missing."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda path: int(Path(path).parent.parent.name))
    if not found:
        raise RuntimeError("no PostgreSQL binaries in /usr/lib/postgresql/*/bin: install "
                           "Debian's postgresql package")
    return Path(found[-1]).parent


def _require_root() -> None:
    if os.geteuid() != 0:
        raise RuntimeError("a private PostgreSQL instance runs as the 'postgres' OS user "
                           "through runuser, which needs root: run this test as root (CI does)")
    try:
        pwd.getpwnam(OS_USER)
    except KeyError:
        raise RuntimeError(f"no OS user {OS_USER!r}: install Debian's postgresql "
                           "package") from None


@dataclass
class PostgresInstance:
    """A private PostgreSQL server: its data directory, port and SQLAlchemy URL."""

    bin: Path
    data: Path
    port: int

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of its `postgres` database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str, timeout: float = 60) -> None:
        done = subprocess.run(["runuser", "-u", OS_USER, "--", str(self.bin / command[0]),
                               *command[1:]], capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}"
                               f"{done.stderr}\n{self.log_text()}")

    def log_text(self) -> str:
        """The server's log so far."""
        log = self.data / "server.log"
        return log.read_text(errors="replace") if log.exists() else ""

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 "
                   f"-c unix_socket_directories={self.data} -c fsync=off "
                   "-c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.data / "server.log"),
                  "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`fast`: roll back and disconnect clients; `immediate`: abort)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        """Whether its postmaster is up."""
        return (self.data / "postmaster.pid").exists()


@contextmanager
def private_postgres() -> Iterator[PostgresInstance]:
    """A fresh PostgreSQL instance on a free port, stopped and deleted afterwards."""
    _require_root()
    folder = Path(tempfile.mkdtemp(prefix="caviar-pg-"))
    try:
        shutil.chown(folder, OS_USER, OS_USER)
        instance = PostgresInstance(postgres_bin(), folder / "data", free_port())
        os.chmod(folder, 0o755)
        subprocess.run(["runuser", "-u", OS_USER, "--", str(instance.bin / "initdb"),
                        "-D", str(instance.data), "-U", "postgres", "-A", "trust",
                        "--no-sync", "-E", "UTF8"], check=True, capture_output=True,
                       timeout=120)
        instance.start()
        try:
            yield instance
        finally:
            if instance.running():
                instance.stop("immediate")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
