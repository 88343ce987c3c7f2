"""A worker node installs NumPy and httpx, not the server: worker/ never imports service/,
and domain/ (shared by the CLI, the server and the worker) imports neither side."""

from __future__ import annotations

import ast
import subprocess
import sys


def loaded_modules(code: str, roots: tuple[str, ...]) -> list[str]:
    """The modules under `roots` that a fresh interpreter has loaded after running `code`."""
    probe = (
        f"{code}\n"
        "import sys\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {roots!r}))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return ast.literal_eval(done.stdout.strip())


SERVER_SIDE = ("service", "fastapi", "sqlalchemy", "alembic", "uvicorn", "psycopg")


def test_the_worker_runtime_loads_without_the_server_or_its_dependencies():
    code = (
        "import worker.runner, worker.pool, worker.client, worker.cache, worker.session\n"
        "import caviar.commands.worker, caviar.commands.submit, caviar.commands.status\n"
        "import caviar.commands.cancel, caviar.commands.validate\n"
    )
    assert loaded_modules(code, SERVER_SIDE) == []


def test_the_domain_loads_without_the_server_or_the_worker():
    code = (
        "import importlib, pkgutil, sys, domain\n"
        "for module in pkgutil.walk_packages(domain.__path__, 'domain.'):\n"
        "    importlib.import_module(module.name)\n"
        "assert {'domain.spec', 'domain.training', 'domain.datasets'} <= set(sys.modules)\n"
    )
    assert loaded_modules(code, (*SERVER_SIDE, "worker", "caviar")) == []
