"""`caviar serve` as users run it: from any directory, with good and bad database URLs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from service.db.migrate import alembic_config, upgrade_to_head
from tests.support.databases import sqlite_url
from tests.support.processes import free_port, live_server, wait_healthy


def run_serve(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "caviar", "serve", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "CAVIAR_DATABASE_URL": ""})


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("mysql://root@localhost/caviar", "backend 'mysql' is not supported"),
        ("not a url", "is not a valid URL"),
        ("sqlite://", "SQLite needs a file"),
        ("sqlite:////nonexistent-folder/caviar.db", "cannot open"),
        ("postgresql+psycopg://postgres:secret@127.0.0.1:5432/caviar_missing_db",
         'database "caviar_missing_db" does not exist'),
    ],
)
def test_a_bad_database_url_is_a_one_line_error(tmp_path, url, fragment):
    result = run_serve("--port", str(free_port()), "--database-url", url, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("caviar serve: error: --database-url")
    assert fragment in lines[0] and "secret" not in lines[0]


def test_a_database_from_a_newer_caviar_is_a_one_line_error(tmp_path):
    """A rolled-back deployment meets a schema it does not know: say so, change nothing."""
    url = sqlite_url(tmp_path)
    engine = create_engine(url)
    try:
        upgrade_to_head(engine)
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    finally:
        engine.dispose()
    result = run_serve("--port", str(free_port()), "--database-url", url, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        f"caviar serve: error: --database-url: cannot use '{url}': the database's schema is "
        "at revision 0099, which this Caviar does not know (its latest is "
        f"{ScriptDirectory.from_config(alembic_config()).get_current_head()}): a newer Caviar "
        "migrated it; run that version or a later one against this database")


@pytest.mark.parametrize("workers", ["0", "65"])
def test_a_bad_worker_count_is_a_one_line_error(tmp_path, workers):
    result = run_serve("--port", str(free_port()), "--workers", workers, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        f"caviar serve: error: --workers: must be between 1 and 64, got {workers}")


def test_a_heartbeat_not_well_below_the_lease_is_a_one_line_error(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "caviar", "serve", "--port", str(free_port())], cwd=tmp_path,
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "CAVIAR_DATABASE_URL": "", "CAVIAR_LEASE_SECONDS": "20",
             "CAVIAR_HEARTBEAT_SECONDS": "10"})
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        "caviar serve: error: CAVIAR_HEARTBEAT_SECONDS (10) must be at most a third of "
        "CAVIAR_LEASE_SECONDS (20), so that a lease survives two lost heartbeats: lower the "
        "heartbeat to 6.66667 or raise the lease to 30")
    assert not list(tmp_path.iterdir())  # no database was made


@pytest.mark.e2e
def test_serve_migrates_a_new_sqlite_file_in_the_working_directory(tmp_path):
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "caviar", "serve", "--port", str(port)], cwd=tmp_path,
            stdout=output, stderr=subprocess.STDOUT,
            env={**os.environ, "CAVIAR_DATABASE_URL": ""},
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, process, log)
        assert httpx.get(f"{url}/api/v1/searches").json() == {"items": [], "total": 0}
        assert (tmp_path / "caviar.db").exists()
    finally:
        process.terminate()
        process.wait(timeout=15)


def _address(url: str) -> tuple[str, int]:
    parsed = httpx.URL(url)
    assert parsed.port is not None
    return parsed.host, parsed.port


def _read_response(connection: socket.socket) -> bytes:
    """One whole HTTP response: its head, then as many body bytes as Content-Length says
    (a single recv may return the head alone when the server writes the body apart)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        assert chunk, ("the server closed the connection", data[:200])
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        chunk = connection.recv(65536)
        assert chunk, ("the server closed the connection", data[:200])
        body += chunk
    assert len(body) == length, (head, body)
    return head + b"\r\n\r\n" + body


@pytest.mark.e2e
def test_an_idle_connection_stays_open_for_the_next_epoch_s_report(tmp_path):
    """uvicorn closes a connection idle for 5 s by default; a worker whose epochs take
    longer would reconnect for every report, and lose a request sent as it closes."""
    with live_server(sqlite_url(tmp_path), tmp_path) as server, \
            socket.create_connection(_address(server.url), timeout=10) as connection:
        for attempt in range(2):
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: caviar\r\n\r\n")
            answer = _read_response(connection)
            assert answer.startswith(b"HTTP/1.1 200"), (attempt, answer[:200])
            if attempt == 0:
                time.sleep(6.5)
                connection.setblocking(False)
                with pytest.raises(BlockingIOError):  # b"" would mean the server closed it
                    connection.recv(1, socket.MSG_PEEK)
                connection.setblocking(True)
