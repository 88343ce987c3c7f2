"""Expired leases: a running trial whose worker went silent goes back to pending.

Back to pending with attempt + 1 and the same params (its per-epoch rows of
the lost attempt are dropped, the next attempt reports them again); past
`max_attempts` it fails with the reason; a trial already told to stop ends as
the stop says; in a cancelled search it is cancelled.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, select

from service.db.models import Intermediate
from service.db.session import Database
from service.store.changes import end_status, finish_if_done, move, note_completed
from service.store.rows import (
    SEARCHES,
    TRIALS,
    RowState,
    lease_ran_out,
    lock_search,
    write_back,
)


def release(connection: Connection, search: RowState, trial: RowState, now: datetime,
            error: str) -> None:
    """Take a running trial from its worker: back to pending, or failed when attempts are spent.

    Changes the states in place; the caller writes them back.
    """
    if trial.stop_reason is not None or search.status == "cancelled":
        status = end_status(trial, search)
        move(search, trial, status, now)
        if status == "completed":
            note_completed(search, trial)
    elif trial.attempt >= search.spec["budget"]["max_attempts"]:
        max_attempts = search.spec["budget"]["max_attempts"]
        trial.error = f"{error}; attempt {trial.attempt} of {max_attempts}, no attempts left"
        move(search, trial, "failed", now)
    else:
        connection.execute(delete(Intermediate).where(Intermediate.trial_id == trial.id))
        trial.attempt += 1
        trial.error = error
        trial.value = None
        trial.last_epoch = None
        trial.worker_id = None
        trial.lease_token = None
        trial.lease_expires_at = None
        trial.started_at = None
        move(search, trial, "pending", now)
    finish_if_done(search, now)


_EXPIRED = (
    select(TRIALS).where(lease_ran_out(bindparam("search_id"))).order_by(TRIALS.c.number)
)


def requeue_expired(connection: Connection, search: RowState, now: datetime) -> int:
    """Release every running trial of the (locked) search whose lease ran out; return how many.

    Writes the trials back; the caller writes back the search.
    """
    expired = connection.execute(_EXPIRED, {"search_id": search.id, "now": now}).all()
    for row in expired:
        trial = RowState(row._mapping)
        release(connection, search, trial, now,
                f"lease expired at {trial.lease_expires_at:%Y-%m-%dT%H:%M:%SZ} "
                f"(worker {trial.worker_id})")
        write_back(connection, (TRIALS, trial))
    return len(expired)


def requeue_all_expired(db: Database, now: datetime) -> int:
    """Release expired leases in every search (the server's background sweep)."""
    with db.read_connection() as connection:
        # No DISTINCT in SQL: with it SQLite scans the (search_id, status) index
        # instead of using the lease-expiry index.
        search_ids = connection.scalars(
            select(TRIALS.c.search_id).where(
                TRIALS.c.status == "running", TRIALS.c.lease_expires_at < now
            )
        ).all()
    released = 0
    for search_id in sorted(set(search_ids)):
        with db.write_connection() as connection:
            search = lock_search(connection, search_id, db.is_postgres)
            if search is not None:
                released += requeue_expired(connection, search, now)
                write_back(connection, (SEARCHES, search))
    return released
