"""A report in one statement, checked against what its writer knew of the trial.

Every other call locks its search from the read to the commit, so the search's
change cursor and counts stay exact. Reports are five calls in seven of a
trial, and under that lock the reports of all of a search's workers would run
one at a time, each holding the search across four round trips. A report
changes nothing but its own trial and the search's cursor, so it is decided
in Python, by domain.lifecycle, from what is known of the trial (`KnownTrial`)
and written by one statement (`report_write`), in autocommit mode, which:

1. bumps the search's `last_seq` (locking the search row first, as every
   writer does, so that `seq` values still follow commit order);
2. updates the trial to the values decided, only if its `seq` is still the
   known one (every change of a trial but a heartbeat moves it), its lease
   token the same and its status running, and gives it the new `seq`;
3. inserts the epochs' rows, only if the trial was updated;

and returns the trial's new `seq`, or no row if the trial changed since it was
known: nothing of the trial is written then (the cursor has moved for nothing,
which a poller sees as an empty page), and the caller decides again.

What is known of a trial comes from reading it without locks, or from this
process's own last write of it: a server process remembers the trials it
handed out or wrote a report of (`KnownTrials`), since a worker's calls come
over one kept-alive connection, to one process. A remembered trial saves the
read: one round trip per report instead of two. Remembering is only an
optimization: the check in (2) makes a stale memory cost one failed
statement, never a wrong write or a wrong answer.

The search is locked by (1) before the trial by (2): the trial's new `seq` is
a subquery of the search's update, which PostgreSQL evaluates when it builds
the trial's new row, before it locks the trial to write it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    Integer,
    Select,
    Text,
    bindparam,
    cast,
    column,
    func,
    insert,
    select,
    true,
    update,
)

from domain.lifecycle.records import TrialRecord
from domain.lifecycle.states import TrialStatus
from service.store.tables import INTERMEDIATE, SEARCHES, TRIALS


@dataclass(frozen=True)
class KnownTrial:
    """A running trial as this process last read or wrote it (its `seq` then), with its
    search's objective. Shared: copy `trial` before changing it."""

    trial: TrialRecord
    metric: str
    goal: str


class KnownTrials:
    """The trials this process last handed out or wrote a report of, the latest `size`.

    Thread-safe: while the database is slow the worker routes run on threads
    (service/api/db_calls.py), and two of them evicting the same oldest trial at once
    would otherwise fail one call with a KeyError."""

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._trials: dict[int, KnownTrial] = {}
        self._lock = threading.Lock()

    def get(self, trial_id: int) -> KnownTrial | None:
        """The trial as last known here, if it is."""
        return self._trials.get(trial_id)

    def remember(self, known: KnownTrial) -> None:
        """Keep the trial as known now, forgetting the longest-known one if full."""
        trial_id = known.trial.id
        if trial_id is None:
            raise ValueError("a trial not yet stored cannot be known")
        with self._lock:
            self._trials.pop(trial_id, None)
            self._trials[trial_id] = known
            if len(self._trials) > self._size:
                del self._trials[next(iter(self._trials))]

    def forget(self, trial_id: int) -> None:
        """Stop remembering the trial (its memory proved stale)."""
        with self._lock:
            self._trials.pop(trial_id, None)


@cache
def report_write() -> Select:
    """The statement writing a report's epochs; it returns the trial's new `seq`.

    Parameters: `report_search_id`, `report_trial_id`, `now`; the trial as known
    (`known_seq`, `known_lease_token`) and as decided (`new_value`,
    `new_last_epoch`, `new_lease_expires_at`); and `epochs`, the epochs as JSON
    text: a list of {"epoch", "value", "metrics"} (one text parameter costs the
    driver less than three arrays). No parameter may be named as a column:
    SQLAlchemy would add it to the SET clause of the updates.
    """
    bumped = (update(SEARCHES)
              .where(SEARCHES.c.id == bindparam("report_search_id"))
              .values(last_seq=SEARCHES.c.last_seq + 1, updated_at=bindparam("now"))
              .returning(SEARCHES.c.last_seq)
              .cte("bumped"))
    reported = (update(TRIALS)
                .where(TRIALS.c.id == bindparam("report_trial_id"),
                       TRIALS.c.seq == bindparam("known_seq"),
                       TRIALS.c.lease_token == bindparam("known_lease_token"),
                       TRIALS.c.status == TrialStatus.RUNNING)
                .values(value=bindparam("new_value"), last_epoch=bindparam("new_last_epoch"),
                        lease_expires_at=bindparam("new_lease_expires_at"),
                        seq=select(bumped.c.last_seq).scalar_subquery())
                .returning(TRIALS.c.id, TRIALS.c.seq)
                .cte("reported"))
    epochs = func.json_to_recordset(cast(bindparam("epochs", type_=Text), JSON)).table_valued(
        column("epoch", Integer), column("value", Float), column("metrics", JSON)
    ).render_derived("epochs", with_types=True)
    rows = select(reported.c.id, epochs.c.epoch, epochs.c.value, epochs.c.metrics,
                  bindparam("now", type_=DateTime)).select_from(reported.join(epochs, true()))
    inserted = (insert(INTERMEDIATE)
                .from_select(["trial_id", "epoch", "value", "metrics", "created_at"], rows)
                .cte("inserted"))
    return select(reported.c.seq).add_cte(inserted)
