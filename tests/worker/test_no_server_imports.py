"""A worker node installs NumPy and httpx, not the server: worker/ never imports service/,
and domain/ (shared by the CLI, the server and the worker) imports neither side; checked on
what a fresh interpreter loads, and on the source of every file."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from caviar.cli import SERVER_MODULES


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


SERVER_SIDE = tuple(sorted(SERVER_MODULES))


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


ROOT = Path(__file__).resolve().parents[2]


def imported_roots(path: Path, module_level_only: bool) -> set[str]:
    """The top-level packages a source file imports (all of them, or only those imported at
    module level, where a command's module is loaded just to build its parser)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    roots: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", ["worker", "domain"])
def test_no_source_file_of_the_worker_or_the_domain_imports_the_server(package):
    offending = {str(path.relative_to(ROOT)): sorted(roots & SERVER_MODULES)
                 for path in sorted((ROOT / package).rglob("*.py"))
                 if (roots := imported_roots(path, module_level_only=False)) & SERVER_MODULES}
    assert offending == {}


def test_the_command_line_imports_the_server_only_inside_the_commands_that_need_it():
    """caviar-worker ships the whole `caviar` package: a module-level import of the server
    would break every command there, `caviar worker` included."""
    offending = {str(path.relative_to(ROOT)): sorted(roots & SERVER_MODULES)
                 for path in sorted((ROOT / "caviar").rglob("*.py"))
                 if (roots := imported_roots(path, module_level_only=True)) & SERVER_MODULES}
    assert offending == {}
