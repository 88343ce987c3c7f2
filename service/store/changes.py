"""The bookkeeping every change of a trial does: status counts, change cursor, completion.

Every write to a trial happens while its search row is locked (PostgreSQL:
`SELECT ... FOR UPDATE`; SQLite: the immediate write transaction), so the
search's counters and `last_seq` are exact and `seq` values follow commit order.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db.models import Search, Trial
from service.errors import NotFound

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


def lock_search_of_trial(session: Session, trial_id: int, postgres: bool
                         ) -> tuple[Search, Trial]:
    """The trial and its search, the search locked first (the one lock order everywhere)."""
    statement = select(Search).join(Trial, Trial.search_id == Search.id).where(
        Trial.id == trial_id
    )
    if postgres:
        statement = statement.with_for_update(of=Search)
    search = session.scalars(statement).one_or_none()
    trial = session.get(Trial, trial_id) if search is not None else None
    if search is None or trial is None:
        raise NotFound(f"trial {trial_id} not found")
    return search, trial


def touch(search: Search, trial: Trial, now: datetime) -> None:
    """Record a change of the trial: the search's cursor moves and the trial takes its value."""
    search.last_seq += 1
    trial.seq = search.last_seq
    search.updated_at = now


def count(search: Search, status: str, delta: int) -> None:
    """Add delta to the search's count of trials in status."""
    column = f"count_{status}"
    setattr(search, column, getattr(search, column) + delta)


def move(search: Search, trial: Trial, status: str, now: datetime) -> None:
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


def note_completed(session: Session, search: Search, trial: Trial) -> None:
    """Make the trial the search's best if it beats the current best."""
    if trial.value is None:
        return
    best_value = None
    if search.best_trial_id is not None:
        best_value = session.scalar(select(Trial.value).where(Trial.id == search.best_trial_id))
    if better(search.spec["objective"]["goal"], trial.value, best_value):
        search.best_trial_id = trial.id


def finish_if_done(search: Search, now: datetime) -> None:
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


def end_status(trial: Trial, search: Search) -> str:
    """The status a running trial ends in when it finishes normally."""
    if trial.stop_reason == SEARCH_CANCELLED or search.status == "cancelled":
        return "cancelled"
    if trial.stop_reason is not None and trial.stop_reason != STOPPED_BY_USER:
        return "pruned"
    return "completed"
