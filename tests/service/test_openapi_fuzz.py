"""Schemathesis against a running server: /openapi.json and the server agree.

It generates requests from the document (valid and invalid ones, and methods a
path does not take), in every phase (examples, coverage, fuzzing, stateful), and
checks that no answer is a 500, that every status and body is the documented
one, that a schema-valid request is accepted (except where
tests/service/schemathesis.toml says why the document cannot tell), and that a
405's `Allow` names the documented methods. It runs once against an open server
and once with a token of each role against a server that requires tokens.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from domain.roles import Role
from tests.support.databases import postgres_database, sqlite_url
from tests.support.processes import Server, live_server

CONFIG = Path(__file__).with_name("schemathesis.toml")
CAVIAR = str(Path(sys.executable).parent / "caviar")

# The roles in the order they are fuzzed: admin last, since it may revoke the others'
# tokens (never its own: a token cannot revoke itself).
ROLES = [Role.READER, Role.WORKER, Role.USER, Role.ADMIN]
# A fuzzer is one client sending as fast as it can: limits meant for many clients would
# turn its run into a run of 429s.
UNLIMITED = {"CAVIAR_AUTH": "required", "CAVIAR_RATE_LIMIT": "100000",
             "CAVIAR_WORKER_RATE_LIMIT": "100000", "CAVIAR_MAX_OPEN_SEARCHES": "100000"}


def schemathesis(server: Server, folder: Path, token: str | None = None) -> str:
    """Run schemathesis against the server (sending the token, if any); return its report,
    failing with it unless every check passed on every documented operation."""
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    done = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "--no-color", "--config-file", str(CONFIG),
         "run", *(arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")),
         f"{server.url}/openapi.json"],
        capture_output=True, text=True, timeout=600, cwd=folder)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    summary = done.stdout[done.stdout.rfind("SUMMARY"):]
    document = httpx.get(f"{server.url}/openapi.json", headers=headers).json()
    operations = sum(len(methods) for methods in document["paths"].values())
    assert f"Tested: {operations}" in summary, summary
    assert "✅ Stateful" in summary, summary
    return done.stdout


def test_an_open_server_agrees_with_its_document(tmp_path: Path):
    with live_server(sqlite_url(tmp_path), tmp_path) as server:
        schemathesis(server, tmp_path)


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[Role, str]]]:
    """A server on PostgreSQL that requires tokens, and a token of each role."""
    folder = tmp_path_factory.mktemp("secured")
    env = {key: value for key, value in os.environ.items() if key != "CAVIAR_TOKEN"}
    with postgres_database() as url:
        tokens = {}
        for role in ROLES:
            made = subprocess.run(
                [CAVIAR, "token", "create", "--role", role.value, "--name", f"fuzz-{role.value}",
                 "--database-url", url], capture_output=True, text=True, timeout=60, env=env)
            assert made.returncode == 0, made.stderr
            tokens[role] = made.stdout.strip()
        with live_server(url, folder, env=UNLIMITED) as server:
            yield server, tokens


@pytest.mark.postgres
@pytest.mark.parametrize("role", ROLES, ids=[role.value for role in ROLES])
def test_each_role_s_token_agrees_with_the_document(secured, role: Role, tmp_path: Path):
    server, tokens = secured
    report = schemathesis(server, tmp_path, tokens[role])
    assert "401 Unauthorized (" not in report, "the role's token was refused:\n" + report
    if role is Role.ADMIN:
        assert "403 Forbidden (" not in report, "an admin was refused:\n" + report
