"""Trials rendered as JSON text by the database, for listings of thousands of trials.

Decoding the params and metrics columns, building a dict per trial, formatting
its timestamps in Python and encoding it all again costs about 30 µs a trial;
a dashboard's full load of 10,000 trials spent most of its time there. Instead
the listing's SELECT renders each trial as the JSON object of docs/api.md
(the fields and order of `service.api.views.trial_json`) in two pieces of text
around its objective value:

    head = '{"id":17, ... ,"value":'    value (a float or NULL)    tail = ',"metrics":{...}, ... }'

The stored params and metrics are spliced in as their stored JSON text (the
server wrote them, so they are valid JSON); strings are quoted by the
database's own JSON quoting; timestamps are formatted in SQL as
`YYYY-MM-DDTHH:MM:SS.mmmZ` (milliseconds truncated, as `isoformat` does). The
value stays a float, written by Python, so that it round-trips exactly (SQLite
would print it with 15 digits).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, String, literal_column

# Each field of a Trial, in the order of docs/api.md, and how its column becomes JSON.
FIELDS_BEFORE_VALUE = (
    ("id", "int"), ("search_id", "int"), ("number", "int"), ("params", "json"),
    ("status", "str"), ("attempt", "int"), ("worker_id", "str"), ("lease_expires_at", "time"),
)
FIELDS_AFTER_VALUE = (
    ("metrics", "json"), ("last_epoch", "int"), ("error", "str"), ("stop_reason", "str"),
    ("round", "int"), ("created_at", "time"), ("started_at", "time"),
    ("finished_at", "time"), ("seq", "int"),
)

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
