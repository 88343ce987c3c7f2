"""The worker-only distribution (packaging/caviar-worker), installed into a clean virtual
environment: no server or server dependency there, and its `caviar worker` completes a
trial for a `caviar serve` of the full install."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from caviar.cli import SERVER_MODULES
from tests.e2e.helpers import all_trials, moons_spec
from tests.support.databases import sqlite_url
from tests.support.processes import live_server
from worker.client import CaviarClient

pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[2]
WORKER_PROJECT = ROOT / "packaging" / "caviar-worker"
SOURCES = ("caviar", "domain", "worker")


def project(path: Path) -> dict:
    return tomllib.loads((path / "pyproject.toml").read_text())["project"]


def run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 240) -> subprocess.CompletedProcess:
    """Run outside the repository, with nothing of the test's own environment on the path."""
    clean = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={**clean, **(env or {})},
                          stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def worker_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean virtual environment with caviar-worker installed from a copy of the sources
    (so that the build leaves nothing in the repository); its bin folder."""
    folder = tmp_path_factory.mktemp("worker-install")
    tree = folder / "tree"
    for name in SOURCES:
        shutil.copytree(ROOT / name, tree / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copytree(WORKER_PROJECT, tree / "packaging" / "caviar-worker",
                    ignore=shutil.ignore_patterns("build", "*.egg-info"))
    # No pip of its own (ensurepip takes seconds): this environment's pip installs into it,
    # without compiling to bytecode (most of the time on SciPy's thousands of files).
    made = run(sys.executable, "-m", "venv", "--without-pip", folder / "venv", cwd=folder)
    assert made.returncode == 0, made.stderr
    bin_folder = folder / "venv" / "bin"
    installed = run(sys.executable, "-m", "pip", "--python", bin_folder / "python", "install",
                    "-q", "--no-compile", tree / "packaging" / "caviar-worker", cwd=folder)
    assert installed.returncode == 0, installed.stderr
    return bin_folder


def test_the_worker_distribution_asks_for_the_full_one_s_dependencies_and_no_server():
    full, worker_only = project(ROOT), project(WORKER_PROJECT)
    assert worker_only["version"] == full["version"]
    assert set(worker_only["dependencies"]) <= set(full["dependencies"])
    named = {dependency.split(">")[0].split("[")[0].split("=")[0].lower()
             for dependency in worker_only["dependencies"]}
    assert named.isdisjoint({"fastapi", "uvicorn", "sqlalchemy", "alembic", "psycopg",
                             "python-multipart"})


def test_the_worker_install_has_no_server_and_no_server_dependency(worker_venv):
    probe = ("import importlib.util\n"
             f"print(sorted(m for m in {sorted(SERVER_MODULES)!r} "
             "if importlib.util.find_spec(m)))\n")
    found = run(worker_venv / "python", "-c", probe, cwd=worker_venv)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == "[]"
    helped = run(worker_venv / "caviar", "worker", "--help", cwd=worker_venv)
    assert helped.returncode == 0 and "--server" in helped.stdout, helped.stderr
    served = run(worker_venv / "caviar", "serve", cwd=worker_venv)
    assert served.returncode == 2
    assert "this command needs the server" in served.stderr
    assert "Traceback" not in served.stderr


def test_the_worker_install_completes_a_trial_for_a_full_server(worker_venv, tmp_path):
    spec = moons_spec("worker-only", max_trials=1, epochs=3)
    with live_server(sqlite_url(tmp_path), tmp_path) as server, \
            CaviarClient(server.url) as client:
        search = client.create_search(spec)
        ran = run(worker_venv / "caviar", "worker", "--server", server.url,
                  "--worker-id", "thin", "--max-trials", "1", cwd=tmp_path,
                  env={"CAVIAR_CACHE_DIR": str(tmp_path / "cache")}, timeout=120)
        trials = all_trials(client, search["id"])
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert [(t["status"], t["worker_id"], t["last_epoch"]) for t in trials] == \
        [("completed", "thin", 2)]
