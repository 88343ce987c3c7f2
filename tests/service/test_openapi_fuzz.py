"""Schemathesis against a running server: /openapi.json and the server agree.

It generates requests from the document (valid and invalid ones, and methods a
path does not take) and checks that no answer is a 500, that every status and
body is the documented one, that a schema-valid request is accepted (except
where tests/service/schemathesis.toml says why the document cannot tell), and
that a 405's `Allow` names the documented methods.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.databases import STORAGE_KINDS, database
from tests.support.processes import Server, live_server

CONFIG = Path(__file__).with_name("schemathesis.toml")


@pytest.fixture(params=STORAGE_KINDS)
def fuzzed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """A server on a fresh database of each kind."""
    with database(request.param, tmp_path) as url, live_server(url, tmp_path) as server:
        yield server


def test_schemathesis_finds_no_disagreement(fuzzed: Server, tmp_path: Path):
    done = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "--no-color", "--config-file", str(CONFIG),
         "run", f"{fuzzed.url}/openapi.json"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    summary = done.stdout[done.stdout.rfind("SUMMARY"):]
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    operations = sum(len(methods) for methods in httpx.get(
        f"{fuzzed.url}/openapi.json").json()["paths"].values())
    assert f"Tested: {operations}" in summary, summary
