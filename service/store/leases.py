"""Expired leases: a running trial whose worker went silent goes back to pending.

Back to pending with attempt + 1 and the same params (its per-epoch rows of
the lost attempt are dropped, the next attempt reports them again); past
`max_attempts` it fails with the reason; a trial already told to stop ends as
the stop says; in a cancelled search it is cancelled.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from service.db.models import Intermediate, Search, Trial
from service.db.session import Database
from service.store.changes import end_status, finish_if_done, lock_search, move, note_completed


def release(session: Session, search: Search, trial: Trial, now: datetime, error: str) -> None:
    """Take a running trial from its worker: back to pending, or failed when attempts are spent."""
    if trial.stop_reason is not None or search.status == "cancelled":
        status = end_status(trial, search)
        move(search, trial, status, now)
        if status == "completed":
            note_completed(session, search, trial)
    elif trial.attempt >= search.spec["budget"]["max_attempts"]:
        max_attempts = search.spec["budget"]["max_attempts"]
        trial.error = f"{error}; attempt {trial.attempt} of {max_attempts}, no attempts left"
        move(search, trial, "failed", now)
    else:
        session.execute(delete(Intermediate).where(Intermediate.trial_id == trial.id))
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


def requeue_expired(session: Session, search: Search, now: datetime) -> int:
    """Release every running trial of the (locked) search whose lease ran out; return how many."""
    expired = session.scalars(
        select(Trial).where(
            Trial.search_id == search.id,
            Trial.status == "running",
            Trial.lease_expires_at < now,
        ).order_by(Trial.number)
    ).all()
    for trial in expired:
        release(session, search, trial, now,
                f"lease expired at {trial.lease_expires_at:%Y-%m-%dT%H:%M:%SZ} "
                f"(worker {trial.worker_id})")
    return len(expired)


def requeue_all_expired(db: Database, now: datetime) -> int:
    """Release expired leases in every search (the server's background sweep)."""
    with db.read() as session:
        search_ids = session.scalars(
            select(Trial.search_id).where(
                Trial.status == "running", Trial.lease_expires_at < now
            ).distinct()
        ).all()
    released = 0
    for search_id in search_ids:
        with db.write() as session:
            search = lock_search(session, search_id, db.is_postgres)
            if search is not None:
                released += requeue_expired(session, search, now)
    return released
