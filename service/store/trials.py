"""Reading trials: one with its per-epoch rows, pages, and changes since a cursor.

Pages and cursor polls select each trial as JSON text built by the database
(`service.store.trial_json`: no ORM objects, no decoding of the JSON columns),
so that the API can answer with thousands of trials cheaply; `since` is a
range scan of the (search_id, seq) index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, bindparam, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from domain.errors import NotFound
from service.db.models import Intermediate, Search, Trial
from service.db.session import Database
from service.store.trial_json import trial_json_columns

_LAST_SEQ = select(Search.last_seq).where(Search.id == bindparam("search_id"))


@cache
def _as_json(postgres: bool) -> Select:
    """SELECT of each trial's JSON head, value, JSON tail and seq (no WHERE yet)."""
    head, tail = trial_json_columns(postgres)
    return select(head, Trial.value, tail, Trial.seq).select_from(Trial)


@cache
def _changed_since(postgres: bool) -> Select:
    """The cursor poll: the search's trials with seq > since, in seq order, up to limit."""
    return (
        _as_json(postgres)
        .where(Trial.search_id == bindparam("search_id"), Trial.seq > bindparam("since"))
        .order_by(Trial.seq)
        .limit(bindparam("limit"))
    )


@dataclass(frozen=True)
class TrialPage:
    """Trials of a search and the search's cursor when they were read.

    Each row is (json_head, value, json_tail, seq): see service.store.trial_json.
    """

    rows: Sequence[Row]
    total: int | None
    cursor: int
    has_more: bool


def get_trial(db: Database, trial_id: int) -> tuple[Trial, list[Intermediate]]:
    """One trial and its per-epoch rows in epoch order, or NotFound."""
    with db.read() as session:
        trial = session.get(Trial, trial_id)
        if trial is None:
            raise NotFound(f"trial {trial_id} not found")
        rows = session.scalars(
            select(Intermediate).where(Intermediate.trial_id == trial_id)
            .order_by(Intermediate.epoch)
        ).all()
        return trial, list(rows)


def _search(session: Session, search_id: int) -> Search:
    search = session.get(Search, search_id)
    if search is None:
        raise NotFound(f"search {search_id} not found")
    return search


def page_trials(db: Database, search_id: int, status: str | None, order: str,
                limit: int, offset: int) -> TrialPage:
    """A page of the search's trials by number, or by value (best first for the goal)."""
    with db.read() as session:
        search = _search(session, search_id)
        where = [Trial.search_id == search_id]
        if status is not None:
            where.append(Trial.status == status)
        total = session.scalar(select(func.count()).select_from(Trial).where(*where)) or 0
        if order == "value":
            by_value = Trial.value.desc() if search.spec["objective"]["goal"] == "maximize" \
                else Trial.value.asc()
            ordering: list[ColumnElement[Any] | InstrumentedAttribute[Any]] = [
                Trial.value.is_(None), by_value, Trial.number]
        else:
            ordering = [Trial.number]
        rows = session.execute(
            _as_json(db.is_postgres).where(*where).order_by(*ordering).limit(limit).offset(offset)
        ).all()
        return TrialPage(rows, total, search.last_seq, offset + len(rows) < total)


def trials_since(db: Database, search_id: int, since: int, limit: int) -> TrialPage:
    """Trials of the search changed after the cursor, in cursor order, and the next cursor.

    Dashboards poll this every few seconds, so it runs prebuilt statements on a bare
    Core connection.
    """
    with db.read_connection() as connection:
        last_seq = connection.scalar(_LAST_SEQ, {"search_id": search_id})
        if last_seq is None:
            raise NotFound(f"search {search_id} not found")
        rows = connection.execute(_changed_since(db.is_postgres),
                                  {"search_id": search_id, "since": since, "limit": limit + 1}
                                  ).all()
        has_more = len(rows) > limit
        rows = rows[:limit]
        # Nothing new: the same cursor, or the search's own if the caller's is ahead of it
        # (a cursor from another database), so that its next poll sees the next change.
        cursor = rows[-1].seq if rows else min(since, last_seq)
        return TrialPage(rows, None, cursor, has_more)
