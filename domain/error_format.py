"""How validation errors are shown: as the items of a 422 body, and as lines to read.

`clean_errors` turns pydantic's errors into a 422's detail items; `error_line`
turns one item into the line a person reads (`field.path: rule`). The server
answers with the items; the CLI prints the lines, whether the errors come from
its own check of a spec (`error_lines`) or from a server's 422, so both read the
same. Plain Python: the worker's HTTP client uses it without loading pydantic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

REQUEST_PARTS = ("body", "query", "path")  # where in a request: not a field a person wrote


def clean_errors(errors: Iterable[Mapping[str, Any]], prefix: Sequence[str | int] = ()
                 ) -> list[dict[str, Any]]:
    """Pydantic errors reduced to loc, msg and type (a 422's detail items); loc prefixed.

    Only these keys, so the items are always JSON-serializable; the server
    prefixes the loc with the request part the input came in (e.g. "body").
    """
    return [
        {"loc": [*prefix, *error["loc"]], "msg": str(error["msg"]), "type": str(error["type"])}
        for error in errors
    ]


def error_line(item: Any) -> str:
    """One 422 detail item as a line: `field.path: rule`, the request part left out."""
    if not isinstance(item, Mapping):
        return str(item)
    loc = [str(part) for part in item.get("loc", []) if part not in REQUEST_PARTS]
    where = ".".join(loc) or "request"
    return f"{where}: {item.get('msg', '')}"


def error_lines(errors: Iterable[Mapping[str, Any]]) -> list[str]:
    """Pydantic errors (`ValidationError.errors()`) as the lines of the same server 422."""
    return [error_line(item) for item in clean_errors(errors)]
