"""The bookkeeping every change of a trial does: status counts, change cursor, completion.

Every write to a trial happens while its search row is locked (PostgreSQL:
`SELECT ... FOR UPDATE`; SQLite: the immediate write transaction), so the
search's counters and `last_seq` are exact and `seq` values follow commit order.
The bookkeeping reads and sets attributes, so it works on ORM objects and on
the worker protocol's `RowState`s alike.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db.models import Search, Trial
from service.store.rows import RowState

SearchRow = Search | RowState
TrialRow = Trial | RowState
FINISHED = ("completed", "failed", "pruned", "cancelled")
STOPPED_BY_USER = "stopped by user"
SEARCH_CANCELLED = "search cancelled"


def utcnow() -> datetime:
    """Now, as the naive UTC datetime the tables store."""
    return datetime.now(UTC).replace(tzinfo=None)


def later(now: datetime, seconds: float) -> datetime:
    """now + seconds."""
    return now + timedelta(seconds=seconds)


def lock_search(session: Session, search_id: int, postgres: bool,
                skip_locked: bool = False) -> Search | None:
    """The search row, locked for this transaction (None if absent, or locked and skipped)."""
    statement = select(Search).where(Search.id == search_id)
    if postgres:
        statement = statement.with_for_update(skip_locked=skip_locked)
    return session.scalars(statement).one_or_none()


def touch(search: SearchRow, trial: TrialRow, now: datetime) -> None:
    """Record a change of the trial: the search's cursor moves and the trial takes its value."""
    search.last_seq += 1
    trial.seq = search.last_seq
    search.updated_at = now


def count(search: SearchRow, status: str, delta: int) -> None:
    """Add delta to the search's count of trials in status."""
    column = f"count_{status}"
    setattr(search, column, getattr(search, column) + delta)


def move(search: SearchRow, trial: TrialRow, status: str, now: datetime) -> None:
    """Change the trial's status, keeping the counts and the cursor right."""
    if trial.status != status:
        count(search, trial.status, -1)
        count(search, status, +1)
        trial.status = status
    if status in FINISHED:
        trial.finished_at = now
        trial.lease_expires_at = None
    touch(search, trial, now)


def better(goal: str, value: float, than: float | None) -> bool:
    """True if value beats than for the goal (anything beats None)."""
    if than is None:
        return True
    return value > than if goal == "maximize" else value < than


def note_completed(search: SearchRow, trial: TrialRow) -> None:
    """Make the trial the search's best if it beats the current best."""
    if trial.value is not None and better(search.spec["objective"]["goal"], trial.value,
                                          search.best_value):
        search.best_trial_id = trial.id
        search.best_value = trial.value


def finish_if_done(search: SearchRow, now: datetime) -> None:
    """Complete a running search whose budget is spent and that has nothing in flight."""
    if (
        search.status == "running"
        and search.n_trials >= search.max_trials
        and search.count_pending == 0
        and search.count_running == 0
    ):
        search.status = "completed"
        search.finished_at = now
        search.updated_at = now


def end_status(trial: TrialRow, search: SearchRow) -> str:
    """The status a running trial ends in when it finishes normally."""
    if trial.stop_reason == SEARCH_CANCELLED or search.status == "cancelled":
        return "cancelled"
    if trial.stop_reason is not None and trial.stop_reason != STOPPED_BY_USER:
        return "pruned"
    return "completed"
