"""Trials rendered as JSON text by the database, for listings of thousands of trials.

Decoding the params and metrics columns, building a dict per trial, formatting
its timestamps in Python and encoding it all again costs about 30 µs a trial;
a dashboard's full load of 10,000 trials spent most of its time there. Instead
the listing's SELECT renders each trial as the JSON object of
service.api.schemas.TrialOut (its fields, in its order, each rendered as its
type says) in two pieces of text around its objective value:

    head = '{"id":17, ... ,"value":'    value (a float or NULL)    tail = ',"metrics":{...}, ... }'

The stored params and metrics are spliced in as their stored JSON text (the
server wrote them, so they are valid JSON); strings are quoted by the
database's own JSON quoting; timestamps are formatted in SQL as
`YYYY-MM-DDTHH:MM:SS.mmmZ` (milliseconds truncated, as `isoformat` does). The
value stays a float, written by Python, so that it round-trips exactly (SQLite
would print it with 15 digits).
"""

from __future__ import annotations

import types
from datetime import datetime
from enum import StrEnum
from typing import Any, Union, get_args, get_origin

from sqlalchemy import ColumnElement, String, literal_column

from service.api.schemas import TrialOut

SPLIT_AT = "value"  # the field rendered by Python, between head and tail


def kind_of(annotation: Any) -> str:
    """How a field of this type is rendered: "int", "json", "str" or "time" (None allowed)."""
    if get_origin(annotation) in (Union, types.UnionType):
        (annotation,) = [arg for arg in get_args(annotation) if arg is not type(None)]
    if annotation is int:
        return "int"
    if annotation is datetime:
        return "time"
    if annotation is str or (isinstance(annotation, type) and issubclass(annotation, StrEnum)):
        return "str"
    if get_origin(annotation) in (dict, list):
        return "json"
    raise TypeError(f"TrialOut has a field of type {annotation!r}, which the SQL rendering "
                    "does not know")


_KINDS = [(name, field.annotation) for name, field in TrialOut.model_fields.items()]
_SPLIT = [name for name, _ in _KINDS].index(SPLIT_AT)
FIELDS_BEFORE_VALUE = tuple((name, kind_of(kind)) for name, kind in _KINDS[:_SPLIT])
FIELDS_AFTER_VALUE = tuple((name, kind_of(kind)) for name, kind in _KINDS[_SPLIT + 1:])
"""Each field of TrialOut around the value, and how its column becomes JSON."""

# SQL turning a column `{c}` of each kind into its JSON text ('null' for NULL).
SQLITE = {
    "int": "coalesce(CAST({c} AS TEXT), 'null')",
    "json": "coalesce({c}, 'null')",
    "str": "json_quote({c})",
    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (the fraction may be absent).
    "time": "CASE WHEN {c} IS NULL THEN 'null' ELSE '\"' || substr({c}, 1, 10) || 'T' || "
            "substr({c}, 12, 8) || '.' || substr(substr({c}, 21) || '000', 1, 3) || 'Z\"' END",
}
POSTGRES = {
    "int": "coalesce(CAST({c} AS TEXT), 'null')",
    "json": "coalesce(CAST({c} AS TEXT), 'null')",
    "str": "coalesce(CAST(to_json({c}) AS TEXT), 'null')",
    "time": "coalesce('\"' || to_char({c}, 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') || '\"', 'null')",
}


def _object_text(fields: tuple[tuple[str, str], ...], rendering: dict[str, str],
                 opening: str, closing: str) -> str:
    """SQL concatenating `"name":<json of the column>` for each field, between two literals."""
    pieces = []
    for index, (name, kind) in enumerate(fields):
        separator = opening if index == 0 else ","
        pieces.append(f"'{separator}\"{name}\":' || {rendering[kind].format(c='trials.' + name)}")
    return " || ".join(pieces) + f" || '{closing}'"


def trial_json_columns(postgres: bool) -> tuple[ColumnElement[str], ColumnElement[str]]:
    """The head and tail text of each trial's JSON object, for the database's dialect.

    The JSON object of a trial is head + (value as JSON) + tail.
    """
    rendering = POSTGRES if postgres else SQLITE
    head = _object_text(FIELDS_BEFORE_VALUE, rendering, "{", ',"value":')
    tail = _object_text(FIELDS_AFTER_VALUE, rendering, ",", "}")
    return (literal_column(head, String).label("json_head"),
            literal_column(tail, String).label("json_tail"))
