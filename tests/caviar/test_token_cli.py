"""`caviar token`, CAVIAR_TOKEN in the CLI and the worker, and `caviar serve`'s refusal to
serve a non-loopback address without tokens: the real console script and server."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.helpers import moons_spec
from tests.support.databases import sqlite_url
from tests.support.processes import Server, free_port, live_server
from worker.client import CaviarClient

CAVIAR = str(Path(sys.executable).parent / "caviar")

pytestmark = pytest.mark.timeout(180)


def caviar(*args: str, token: str | None = None, timeout: float = 60
           ) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "CAVIAR_TOKEN"}
    if token is not None:
        env["CAVIAR_TOKEN"] = token
    return subprocess.run([CAVIAR, *args], capture_output=True, text=True, timeout=timeout,
                          env=env, stdin=subprocess.DEVNULL)


def make_token(database_url: str, role: str, name: str) -> str:
    made = caviar("token", "create", "--role", role, "--name", name,
                  "--database-url", database_url)
    assert made.returncode == 0, made.stderr
    assert "shown once" in made.stderr
    return made.stdout.strip()


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, str]]]:
    """A server whose database held tokens when it started, and those tokens."""
    folder = tmp_path_factory.mktemp("secured")
    url = sqlite_url(folder)
    tokens = {role: make_token(url, role, f"{role}-1") for role in ("admin", "user", "worker")}
    with live_server(url, folder) as running:
        yield running, tokens


def test_the_first_admin_token_is_made_on_the_database(tmp_path):
    url = sqlite_url(tmp_path)
    admin = make_token(url, "admin", "root")
    listed = caviar("token", "list", "--database-url", url)
    assert listed.returncode == 0, listed.stderr
    assert "root" in listed.stdout and admin[:10] in listed.stdout and admin not in listed.stdout
    assert caviar("token", "revoke", "1", "--database-url", url).returncode == 0
    again = caviar("token", "revoke", "1", "--database-url", url)
    assert again.returncode == 1 and "already revoked" in again.stderr


@pytest.mark.parametrize(("args", "message"), [
    (("--role", "boss", "--name", "x"), "invalid choice: 'boss'"),
    (("--role", "user", "--name", "two words"), "--name: String should match pattern"),
])
def test_a_bad_token_request_is_one_line_and_exit_2(tmp_path, args, message):
    done = caviar("token", "create", *args, "--database-url", sqlite_url(tmp_path))
    assert done.returncode == 2 and message in done.stderr
    assert "Traceback" not in done.stderr


def test_commands_send_caviar_token(secured, tmp_path):
    server, tokens = secured
    refused = caviar("status", "--server", server.url)
    assert refused.returncode == 1
    assert "requires a token" in refused.stderr and "set CAVIAR_TOKEN" in refused.stderr
    assert caviar("status", "--server", server.url, token=tokens["user"]).returncode == 0
    forbidden = caviar("token", "list", "--server", server.url, token=tokens["user"])
    assert forbidden.returncode == 1 and "'manage' permission" in forbidden.stderr
    made = caviar("token", "create", "--role", "reader", "--name", "eve", "--server",
                  server.url, token=tokens["admin"])
    assert made.returncode == 0 and made.stdout.startswith("cvr_"), made.stderr


def test_a_worker_runs_trials_with_its_token_and_stops_when_refused(secured, tmp_path):
    server, tokens = secured
    with CaviarClient(server.url, token=tokens["user"]) as client:
        search = client.create_search(moons_spec("secured", 2, 2))
    env = {**os.environ, "CAVIAR_TOKEN": tokens["worker"],
           "CAVIAR_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run([CAVIAR, "worker", "--server", server.url, "--search",
                           str(search["id"]), "--idle-exit", "1"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with CaviarClient(server.url, token=tokens["user"]) as client:
        assert client.get_search(search["id"])["counts"]["completed"] == 2
    env["CAVIAR_TOKEN"] = tokens["user"]  # a user's token may not claim
    refused = subprocess.run([CAVIAR, "worker", "--server", server.url, "--idle-exit", "5"],
                             env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1
    assert "refused this worker's token" in refused.stderr + refused.stdout


def test_serve_refuses_a_non_loopback_address_without_tokens(tmp_path):
    done = caviar("serve", "--host", "0.0.0.0", "--port", str(free_port()),
                  "--database-url", sqlite_url(tmp_path), timeout=60)
    assert done.returncode == 2
    assert "not a loopback address" in done.stderr and "--insecure" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_insecure_runs_open_and_says_so(tmp_path):
    with live_server(sqlite_url(tmp_path), tmp_path, host="0.0.0.0",
                     args=("--insecure",)) as server:
        assert httpx.get(f"{server.url}/api/v1/whoami").json()["authentication"] == "open"
    assert "--insecure: the API on 0.0.0.0 is open" in server.log.read_text()


def test_serve_on_loopback_without_tokens_says_the_api_is_open(tmp_path):
    with live_server(sqlite_url(tmp_path), tmp_path) as server:
        assert httpx.get(f"{server.url}/api/v1/searches").status_code == 200
    assert "no tokens: the API is open to anyone on this machine" in server.log.read_text()


def test_serve_with_tls(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    with live_server(sqlite_url(tmp_path), tmp_path, scheme="https",
                     args=("--ssl-certfile", str(cert), "--ssl-keyfile", str(key))) as server:
        assert server.url.startswith("https://")
        assert httpx.get(f"{server.url}/healthz", verify=str(cert)).status_code == 200


def test_serve_refuses_a_missing_certificate(tmp_path):
    done = caviar("serve", "--ssl-certfile", str(tmp_path / "nope.pem"), "--ssl-keyfile",
                  str(tmp_path / "nope.key"), "--database-url", sqlite_url(tmp_path))
    assert done.returncode == 2 and "--ssl-certfile: cannot read" in done.stderr
