"""A report's writes as one statement, checked against the trial as it was read (PostgreSQL).

Every other call locks its search from the read to the commit, so the search's
change cursor and counts stay exact. Reports are five calls in seven of a
trial, and under that lock the reports of all of a search's workers would run
one at a time, each holding the search across four round trips. A report
changes nothing but its own trial and the search's cursor, so it is read
without locks, decided in Python as usual, and written by this one statement,
in autocommit mode, which:

1. bumps the search's `last_seq` (locking the search row first, as every
   writer does, so that `seq` values still follow commit order);
2. updates the trial to the values decided, only if its `seq` is still the
   one read (every change of a trial but a heartbeat moves it), its lease
   token the same and its status running, and gives it the new `seq`;
3. inserts the epochs' rows, only if the trial was updated.

The statement returns the new rows' ids: none means that the trial changed
since it was read, and the caller decides again under the lock. The cursor
has then moved for nothing, which a poller sees as an empty page.

The search is locked by (1) before the trial by (2): the trial's new `seq` is
a subquery of the search's update, which PostgreSQL evaluates when it builds
the trial's new row, before it locks the trial to write it.
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    Insert,
    Integer,
    Text,
    bindparam,
    cast,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from service.db.models import Intermediate
from service.store.rows import SEARCHES, TRIALS

INTERMEDIATE = Intermediate.__table__


@cache
def report_write() -> Insert:
    """The statement writing a report's epochs.

    Parameters: `report_search_id`, `report_trial_id`, `now`; the trial as read
    (`read_seq`, `read_lease_token`) and as decided (`new_value`,
    `new_last_epoch`, `new_lease_expires_at`); and the epochs as three arrays
    of one item per epoch: `epochs`, `epoch_values` and `epoch_metrics` (JSON
    text). (No parameter may be named as a column: SQLAlchemy would add it to
    the SET clause of the updates.)
    """
    bumped = (update(SEARCHES)
              .where(SEARCHES.c.id == bindparam("report_search_id"))
              .values(last_seq=SEARCHES.c.last_seq + 1, updated_at=bindparam("now"))
              .returning(SEARCHES.c.last_seq)
              .cte("bumped"))
    reported = (update(TRIALS)
                .where(TRIALS.c.id == bindparam("report_trial_id"),
                       TRIALS.c.seq == bindparam("read_seq"),
                       TRIALS.c.lease_token == bindparam("read_lease_token"),
                       TRIALS.c.status == "running")
                .values(value=bindparam("new_value"), last_epoch=bindparam("new_last_epoch"),
                        lease_expires_at=bindparam("new_lease_expires_at"),
                        seq=select(bumped.c.last_seq).scalar_subquery())
                .returning(TRIALS.c.id)
                .cte("reported"))
    epochs = func.unnest(bindparam("epochs", type_=ARRAY(Integer)),
                         bindparam("epoch_values", type_=ARRAY(Float)),
                         bindparam("epoch_metrics", type_=ARRAY(Text))
                         ).table_valued("epoch", "value", "metrics").render_derived("epochs")
    rows = select(reported.c.id, epochs.c.epoch, epochs.c.value, cast(epochs.c.metrics, JSON),
                  bindparam("now", type_=DateTime)).select_from(reported.join(epochs, true()))
    return (insert(INTERMEDIATE)
            .from_select(["trial_id", "epoch", "value", "metrics", "created_at"], rows)
            .returning(INTERMEDIATE.c.id))
