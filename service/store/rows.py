"""One transaction's reads of searches and trials as records, and the writes of what changed.

`Rows` reads rows into records (service.store.tables), remembers the values
each was read with, and `save` writes back only the columns the lifecycle
changed, after any writes queued before (an epoch's row, a deletion), all
through one `Statements` (service.store.statements).

Locks: every writer locks a search before any of its trials, so writers never
wait for each other in a cycle. On PostgreSQL the reads below lock with
`FOR UPDATE OF` the tables in that order; a locked row is returned as it is
once the lock is held, so a trial read with its search is current. SQLite
ignores `FOR UPDATE`: there the write transaction itself is the lock (`BEGIN
IMMEDIATE`, service.db.session).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Insert,
    Select,
    Table,
    Update,
    bindparam,
    delete,
    exists,
    insert,
    literal_column,
    or_,
    select,
    update,
)

from domain.errors import NotFound
from domain.lifecycle.records import Metrics, SearchRecord, TrialRecord
from domain.lifecycle.states import LIVE, SearchStatus, TrialStatus
from service.store.statements import Statements, Write
from service.store.tables import (
    INTERMEDIATE,
    SEARCH_COLUMNS,
    SEARCH_WRITABLE,
    SEARCHES,
    TRIAL_COLUMNS,
    TRIAL_FIELDS,
    TRIALS,
    lease_ran_out,
    search_record,
    search_values,
    trial_record,
    trial_values,
)

_SEARCH = select(*SEARCH_COLUMNS).where(SEARCHES.c.id == bindparam("search_id"))
_KEY_TRIAL = (
    select(TRIALS.c.id)
    .where(TRIALS.c.claim_key == bindparam("claim_key"),
           TRIALS.c.worker_id == bindparam("worker_id"),
           TRIALS.c.status == literal_column(f"'{TrialStatus.RUNNING}'"),
           TRIALS.c.lease_expires_at >= bindparam("now"))
    .limit(1)
    .scalar_subquery()
    .label("key_trial_id")
)
"""The trial the worker's claim of this key took, if it still runs under that claim's lease
(NULL without a key): asked beside the claim's first statement, so a claim with a key costs
no extra round trip. The status is a literal, not a parameter, so that both databases can
prove the query within the predicate of the partial index it reads
(uq_trials_running_claim_key), prepared statements included."""
_SEARCH_TO_CLAIM = select(
    *SEARCH_COLUMNS,
    exists(select(TRIALS.c.id).where(lease_ran_out(SEARCHES.c.id)).limit(1)).label(
        "lease_expired"),
    _KEY_TRIAL,
).where(SEARCHES.c.id == bindparam("search_id"))
_SEARCH_AND_TRIAL = (
    select(*SEARCH_COLUMNS, *TRIAL_COLUMNS)
    .join_from(SEARCHES, TRIALS, TRIALS.c.search_id == SEARCHES.c.id)
    .where(TRIALS.c.id == bindparam("trial_id"))
)
_OLDEST_PENDING = (
    select(*TRIAL_COLUMNS)
    .where(TRIALS.c.search_id == bindparam("search_id"),
           TRIALS.c.status == TrialStatus.PENDING)
    .order_by(TRIALS.c.number)
    .limit(1)
)
_TRIAL = select(*TRIAL_COLUMNS).where(TRIALS.c.id == bindparam("trial_id"))
_EXPIRED = (select(*TRIAL_COLUMNS).where(lease_ran_out(bindparam("search_id")))
            .order_by(TRIALS.c.number))
_LIVE = (select(*TRIAL_COLUMNS)
         .where(TRIALS.c.search_id == bindparam("search_id"),
                or_(*(TRIALS.c.status == status for status in sorted(LIVE))))
         .order_by(TRIALS.c.number))
_RUNNING_SEARCHES = (select(SEARCHES.c.id, _KEY_TRIAL)
                     .where(SEARCHES.c.status == SearchStatus.RUNNING)
                     .order_by(SEARCHES.c.id))
_EPOCH_VALUES = (select(INTERMEDIATE.c.value)
                 .where(INTERMEDIATE.c.trial_id == bindparam("trial_id"),
                        INTERMEDIATE.c.value.is_not(None))
                 .order_by(INTERMEDIATE.c.epoch))
_EPOCH_METRICS = select(INTERMEDIATE.c.metrics).where(
    INTERMEDIATE.c.trial_id == bindparam("trial_id"), INTERMEDIATE.c.epoch == bindparam("epoch"))
_COMPLETED_AT_EPOCH = (
    select(INTERMEDIATE.c.value)
    .join(TRIALS, TRIALS.c.id == INTERMEDIATE.c.trial_id)
    .where(TRIALS.c.search_id == bindparam("search_id"),
           TRIALS.c.status == TrialStatus.COMPLETED, TRIALS.c.origin_trial_id.is_(None),
           INTERMEDIATE.c.epoch == bindparam("epoch"), INTERMEDIATE.c.value.is_not(None))
)
_DELETE_EPOCHS = delete(INTERMEDIATE).where(
    INTERMEDIATE.c.trial_id == bindparam("deleted_trial_id"))

_LOCKED_SEARCH = {skip: _SEARCH.with_for_update(skip_locked=skip) for skip in (False, True)}
_LOCKED_SEARCH_TO_CLAIM = {
    skip: _SEARCH_TO_CLAIM.with_for_update(of=SEARCHES, skip_locked=skip)
    for skip in (False, True)
}
_LOCKED_SEARCH_AND_TRIAL = _SEARCH_AND_TRIAL.with_for_update(of=[SEARCHES, TRIALS])
_SEARCH_WIDTH = len(SEARCH_COLUMNS)


@cache
def _update_of(table: Table, columns: tuple[str, ...]) -> Update:
    """UPDATE of one row's columns, its parameters named after the table (see `Write`)."""
    return (update(table).where(table.c.id == bindparam(f"{table.name}_row_id"))
            .values({name: bindparam(f"{table.name}_{name}") for name in columns}))


@cache
def _insert_of(table: Table, columns: tuple[str, ...]) -> Insert:
    return (insert(table).values({name: bindparam(f"new_{name}") for name in columns})
            .returning(table.c.id))


@dataclass(frozen=True)
class ClaimStart:
    """What a claim's first statement on a search reads (Rows.lock_search_to_claim)."""

    search: SearchRecord
    lease_expired: bool
    """A lease of the search ran out (a hint: see lock_search_to_claim)."""
    key_trial_id: int | None
    """The trial the worker's claim of the same key took, still running under its lease."""


class Rows:
    """Reads of one transaction as records, and the writes of their changes."""

    def __init__(self, sql: Statements) -> None:
        self.sql = sql
        # id(record) -> (the record, kept alive so that its id is not reused; its column
        # values when read or last saved)
        self._loaded: dict[int, tuple[object, tuple[Any, ...]]] = {}
        self._writes: list[Write] = []

    # --- reads ---------------------------------------------------------------------------------

    def _first(self, statement: Any, params: dict[str, Any]) -> Any:
        """The statement's first row, read after the queued writes have run."""
        self.flush()
        return self.sql.first(statement, params)

    def _all(self, statement: Any, params: dict[str, Any]) -> list[Any]:
        """The statement's rows, read after the queued writes have run."""
        self.flush()
        return self.sql.all(statement, params)

    def _search(self, values: Any) -> SearchRecord:
        search = search_record(values)
        self._loaded[id(search)] = (search, search_values(search))
        return search

    def _trial(self, values: Any) -> TrialRecord:
        trial = trial_record(values)
        self._loaded[id(trial)] = (trial, trial_values(trial))
        return trial

    def lock_search(self, search_id: int, skip_locked: bool = False) -> SearchRecord | None:
        """The search, locked for this transaction (None if absent, or locked and skipped)."""
        row = self._first(_LOCKED_SEARCH[skip_locked], {"search_id": search_id})
        return None if row is None else self._search(row)

    def lock_search_to_claim(self, search_id: int, now: datetime, skip_locked: bool = False,
                             worker_id: str = "", claim_key: str | None = None
                             ) -> ClaimStart | None:
        """The search as `lock_search` reads it, whether a lease of its ran out before now,
        and the trial the worker's claim of `claim_key` took if it still runs.

        The lease is a hint, from the rows as they were when the statement began (before
        it waited for the lock): the claim looks again under the lock if it is true,
        and a lease it missed is found by the next claim or the sweep.
        """
        row = self._first(_LOCKED_SEARCH_TO_CLAIM[skip_locked],
                         {"search_id": search_id, "now": now, "worker_id": worker_id,
                          "claim_key": claim_key})
        return None if row is None else ClaimStart(self._search(row[:-2]), bool(row[-2]),
                                                   row[-1])

    def lock_search_of_trial(self, trial_id: int) -> tuple[SearchRecord, TrialRecord]:
        """The trial and its search, both locked, in one statement; NotFound if absent."""
        return self._search_and_trial(_LOCKED_SEARCH_AND_TRIAL, trial_id)

    def read_search_of_trial(self, trial_id: int) -> tuple[SearchRecord, TrialRecord]:
        """The trial and its search as `lock_search_of_trial` reads them, without locks."""
        return self._search_and_trial(_SEARCH_AND_TRIAL, trial_id)

    def _search_and_trial(self, statement: Select[Any], trial_id: int
                          ) -> tuple[SearchRecord, TrialRecord]:
        row = self._first(statement, {"trial_id": trial_id})
        if row is None:
            raise NotFound(f"trial {trial_id} not found")
        return self._split(row)

    def _split(self, row: Any) -> tuple[SearchRecord, TrialRecord]:
        """The search and the trial of a row of SEARCH_COLUMNS then TRIAL_COLUMNS."""
        return self._search(row[:_SEARCH_WIDTH]), self._trial(row[_SEARCH_WIDTH:])

    def oldest_pending(self, search: SearchRecord) -> TrialRecord:
        """The search's pending trial of the lowest number (the search counts one)."""
        row = self._first(_OLDEST_PENDING, {"search_id": search.id})
        if row is None:
            raise RuntimeError(f"search {search.id} counts {search.counts[TrialStatus.PENDING]} "
                               "pending trial(s) but has none")
        return self._trial(row)

    def trial(self, trial_id: int) -> TrialRecord:
        """A trial of a search this transaction locked; NotFound if absent."""
        row = self._first(_TRIAL, {"trial_id": trial_id})
        if row is None:
            raise NotFound(f"trial {trial_id} not found")
        return self._trial(row)

    def expired(self, search: SearchRecord, now: datetime) -> list[TrialRecord]:
        """The (locked) search's running trials whose lease ran out before now, by number."""
        return [self._trial(row) for row in
                self._all(_EXPIRED, {"search_id": search.id, "now": now})]

    def live(self, search: SearchRecord) -> list[TrialRecord]:
        """The (locked) search's trials not ended (pending, running, paused), by number."""
        return [self._trial(row) for row in self._all(_LIVE, {"search_id": search.id})]

    def running_search_ids(self, now: datetime, worker_id: str = "",
                           claim_key: str | None = None) -> tuple[list[int], int | None]:
        """The ids of the running searches, oldest first, and the trial the worker's claim of
        `claim_key` took if it still runs (None without running searches: it would be
        running in one)."""
        rows = self._all(_RUNNING_SEARCHES, {"worker_id": worker_id, "claim_key": claim_key,
                                             "now": now})
        return [row[0] for row in rows], (rows[0][1] if rows else None)

    def epoch_values(self, trial_id: int) -> list[float]:
        """The trial's objective values so far, by epoch (epochs without one left out)."""
        return [row[0] for row in self._all(_EPOCH_VALUES, {"trial_id": trial_id})]

    def epoch_metrics(self, trial_id: int, epoch: int) -> Metrics | None:
        """The metrics stored for the trial's epoch, or None if it has no such row."""
        row = self._first(_EPOCH_METRICS, {"trial_id": trial_id, "epoch": epoch})
        return None if row is None else dict(row[0])

    def last_epoch_metrics(self, trial: TrialRecord) -> Metrics | None:
        """The metrics of the trial's last reported epoch, or None before any report."""
        if trial.id is None or trial.last_epoch is None:
            return None
        return self.epoch_metrics(trial.id, trial.last_epoch)

    def completed_values_at(self, search_id: int, epoch: int) -> list[float]:
        """The objective values of the search's completed trials at the epoch, re-tests left
        out (the median rule's reference: they would count the best settings twice)."""
        return [row[0] for row in self._all(_COMPLETED_AT_EPOCH,
                                            {"search_id": search_id, "epoch": epoch})]

    # --- writes --------------------------------------------------------------------------------

    def queue(self, table: Table, statement: Any, params: dict[str, Any]) -> None:
        """A write to run before the next `save`'s updates (parameters named after table)."""
        self._writes.append(Write(table, statement, params))

    def delete_epochs(self, trial: TrialRecord) -> None:
        """Queue the deletion of the trial's per-epoch rows (its lost attempt's)."""
        self.queue(INTERMEDIATE, _DELETE_EPOCHS, {"deleted_trial_id": trial.id})

    def insert(self, trial: TrialRecord) -> None:
        """Queue the INSERT of a new trial (NULL columns left out); its id is set when it runs."""
        values = {name: value for name, value in zip(TRIAL_FIELDS, trial_values(trial),
                                                     strict=True) if value is not None}
        self._writes.append(Write(TRIALS, _insert_of(TRIALS, tuple(values)),
                                  {f"new_{name}": value for name, value in values.items()},
                                  inserts=trial))

    def insert_now(self, statement: Any, params: dict[str, Any]) -> bool:
        """Run an INSERT ... ON CONFLICT DO NOTHING RETURNING at once (after what is queued);
        whether it inserted its row."""
        self.flush()
        return self.sql.first(statement, params) is not None

    def update(self, record: SearchRecord | TrialRecord) -> None:
        """Queue an UPDATE of the record's columns that changed since it was read or saved."""
        _, loaded = self._loaded[id(record)]
        if isinstance(record, SearchRecord):
            table, names, values = SEARCHES, SEARCH_WRITABLE, search_values(record)
        else:
            table, names, values = TRIALS, TRIAL_FIELDS, trial_values(record)
        if values == loaded:
            return
        changed = [(name, value) for name, value, old in zip(names, values, loaded, strict=True)
                   if value != old]
        params = {f"{table.name}_{name}": value for name, value in changed}
        params[f"{table.name}_row_id"] = record.id
        self._writes.append(Write(table, _update_of(table, tuple(name for name, _ in changed)),
                                  params))
        self._loaded[id(record)] = (record, values)

    def save(self, *records: SearchRecord | TrialRecord) -> None:
        """Queue an UPDATE of each record's changed columns, in the order given, then run
        every queued write."""
        for record in records:
            self.update(record)
        self.flush()

    def flush(self) -> None:
        """Run every queued write, in order."""
        writes, self._writes = self._writes, []
        if writes:
            self.sql.write(writes)
