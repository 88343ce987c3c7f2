"""A state is written out once: in domain/lifecycle, and in the dashboard's js/states.js.

Everything else names a state through TrialStatus, SearchStatus and StopCause (or, in the
dashboard, TRIAL and SEARCH), so that a state added or renamed is changed in one place. The
migrations keep the strings they were written with.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from domain.lifecycle.states import SearchStatus, StopCause, TrialStatus

ROOT = Path(__file__).resolve().parents[3]
STATES = {status.value for status in (*TrialStatus, *SearchStatus, *StopCause)}
STATES_AND_TEXT = STATES | {cause.reason for cause in StopCause if cause.reason}
ALLOWED = {
    ROOT / "domain" / "lifecycle" / "states.py",
    ROOT / "service" / "dashboard" / "static" / "js" / "states.js",
    ROOT / "domain" / "roles.py",  # the role "user", spelled like the stop cause "user"
}
PYTHON = ["caviar", "domain", "service", "worker"]
SCRIPTS = ROOT / "service" / "dashboard" / "static" / "js"


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the docstring nodes of a module, its classes and functions."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value,
                                                                     ast.Constant):
                found.add(id(body[0].value))
    return found


def python_literals(path: Path, root: Path = ROOT) -> list[str]:
    """`file:line: "state"` for each string literal of the file that is a state's value."""
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = _docstrings(tree)
    return [f"{path.relative_to(root)}:{node.lineno}: {node.value!r}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and node.value in STATES_AND_TEXT
            and id(node) not in docstrings]


def script_literals(path: Path, root: Path = ROOT) -> list[str]:
    """The same for a JavaScript file (comments left out)."""
    found = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        code = re.sub(r"//.*$", "", line)
        for text in re.findall(r"""["'`]([a-z_ ]+)["'`]""", code):
            if text in STATES_AND_TEXT:
                found.append(f"{path.relative_to(root)}:{number}: {text!r}")
    return found


def test_states_are_written_out_only_where_they_are_defined():
    found = []
    for folder in PYTHON:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path not in ALLOWED:
                found += python_literals(path)
    for path in sorted(SCRIPTS.rglob("*.js")):
        if path not in ALLOWED:
            found += script_literals(path)
    assert not found, "a state written out; name it through domain.lifecycle.states:\n" + (
        "\n".join(found))


def test_the_check_finds_a_state_written_out(tmp_path: Path):
    module = tmp_path / "module.py"
    module.write_text('"""Trials that are "running"."""\n\nDONE = "completed"\n')
    script = tmp_path / "view.js"
    script.write_text('// "pending" in a comment\nconst x = t.status === "pruned";\n')
    assert python_literals(module, tmp_path) == ["module.py:3: 'completed'"]
    assert script_literals(script, tmp_path) == ["view.js:2: 'pruned'"]

