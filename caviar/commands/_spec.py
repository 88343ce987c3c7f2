"""Reading a search spec from a YAML (or JSON) file, and checking it as the server would.

`caviar submit`, `caviar validate` and `caviar demo` share both steps. The check
is the server's own (`domain.spec.parse_spec`, with its default `max_trials`
limit), and its errors are the lines a server's 422 prints (`domain.error_format`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from caviar.errors import InvalidSpec, UsageError
from domain.error_format import error_lines
from domain.spec import SearchSpec, parse_spec


def read_spec(path: Path) -> dict[str, Any]:
    """The spec as a mapping; a missing file, bad YAML or a non-mapping is a UsageError."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"SPEC: cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise UsageError(f"SPEC: cannot read {path}: not UTF-8 text (byte {error.start})"
                         ) from None
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise UsageError(f"SPEC: {path} is not valid YAML{where}: {problem}") from None
    if not isinstance(spec, dict):
        raise UsageError(f"SPEC: {path} must hold a mapping (name, dataset, parameters, ...), "
                         f"got {type(spec).__name__}")
    return spec


def check_spec(spec: Mapping[str, Any]) -> SearchSpec:
    """The spec validated by the server's rules; InvalidSpec with one line per broken rule."""
    try:
        return parse_spec(spec)
    except ValidationError as error:
        raise InvalidSpec(error_lines(error.errors())) from None
