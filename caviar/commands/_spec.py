"""Reading a search spec from a YAML (or JSON) file for `caviar submit` and `caviar demo`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from caviar.errors import UsageError


def read_spec(path: Path) -> dict[str, Any]:
    """The spec as a mapping; a missing file, bad YAML or a non-mapping is a UsageError."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"SPEC: cannot read {path}: {error.strerror}") from None
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
