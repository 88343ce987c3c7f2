"""Which database errors mean "unavailable for now" (a 503 the client retries), and why.

A database that is down, restarting, holding a lock past the server's timeout
(CAVIAR_DB_TIMEOUT_SECONDS), or unable to store a write (SQLite's "database or disk
is full") raises one of `UNAVAILABLE`; anything else the database raises (a broken
constraint, bad SQL) is a bug of the server's own.
"""

from __future__ import annotations

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from service.db.session import DatabaseBusy

UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout, DatabaseBusy)
"""The errors of a database that is down, restarting, or too slow to answer in time."""

_TIMED_OUT = ("statement timeout", "lock timeout", "database is locked")


def unavailable_reason(error: BaseException) -> str:
    """One line saying why the database did not answer, naming the timeout when it ran out."""
    if isinstance(error, PoolTimeout):
        return ("no database connection came free in time (CAVIAR_DB_TIMEOUT_SECONDS): "
                "the server is busy")
    original = getattr(error, "orig", None) or error
    reason = (str(original).strip().splitlines() or [type(original).__name__])[0]
    if isinstance(error, DatabaseBusy) or any(text in reason for text in _TIMED_OUT):
        return f"timed out: {reason}" + ("" if "CAVIAR_DB_TIMEOUT_SECONDS" in reason
                                         else " (CAVIAR_DB_TIMEOUT_SECONDS)")
    return reason


def unavailable(error: BaseException) -> str:
    """The sentence of a 503 for a database that did not do what was asked, with why
    ("database or disk is full", "connection refused", a timeout named)."""
    return f"the database is unavailable: {unavailable_reason(error)}"
