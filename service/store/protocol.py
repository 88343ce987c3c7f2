"""The worker protocol: claim, heartbeat, report, complete, fail; and a user's stop.

A worker write must carry the trial's current lease token and find the trial
running; otherwise it is a Conflict (409) and the worker drops the trial.

A claim, a complete, a fail or a stop is one write transaction that locks the
trial's search first: a locked read, the decision in Python, the writes sent
together (service.store.rows), COMMIT. A report or a heartbeat changes only its
trial (and the search's change cursor), so on PostgreSQL each is one statement
in autocommit mode that checks, as it writes, that the trial is still as it was
known (service.store.report_write); a report that check refuses, or one that an
early-stopping rule must judge, is decided under the lock like the others.

These calls are the server's hot path: they skip the ORM, and on PostgreSQL
send their statements through the driver's cursor (service.db.driver).
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Insert, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from service.db.driver import DriverConnection
from service.db.session import Database
from service.errors import Conflict, Invalid, NotFound
from service.store import plans
from service.store.changes import (
    STOPPED_BY_USER,
    better,
    count,
    end_status,
    finish_if_done,
    later,
    move,
    note_completed,
    touch,
    utcnow,
)
from service.store.leases import release, requeue_expired
from service.store.report_write import KnownTrial, KnownTrials, report_write
from service.store.rows import (
    INTERMEDIATE,
    SEARCHES,
    TRIALS,
    RowState,
    Writes,
    first,
    lock_search_of_trial,
    lock_search_to_claim,
    read_search_of_trial,
    spec_from_text,
    write_back,
)

_OLDEST_PENDING = (
    select(TRIALS)
    .where(TRIALS.c.search_id == bindparam("search_id"), TRIALS.c.status == "pending")
    .order_by(TRIALS.c.number)
    .limit(1)
)


@dataclass(frozen=True)
class Claimed:
    """A trial handed to a worker (its columns as attributes), with its search's stored spec."""

    trial: RowState
    spec_text: str

    @property
    def spec(self) -> dict[str, Any]:
        """The search's spec, parsed (shared: do not change it)."""
        return spec_from_text(self.spec_text)


@dataclass(frozen=True)
class Action:
    """What a worker is told after a heartbeat or report."""

    stop: bool
    reason: str | None
    lease_expires_at: datetime | None


def _assign(search: RowState, trial: RowState, worker_id: str, now: datetime,
            lease_seconds: float) -> None:
    trial.worker_id = worker_id
    trial.lease_token = uuid.uuid4().hex
    trial.lease_expires_at = later(now, lease_seconds)
    trial.started_at = now
    move(search, trial, "running", now)


def _new_trial(search: RowState, params: dict[str, Any], round_: int, now: datetime
               ) -> RowState:
    """The search's next trial, pending, not yet inserted (its id is None)."""
    return RowState({
        "id": None, "search_id": search.id, "number": search.n_trials, "params": params,
        "round": round_, "status": "pending", "attempt": 1, "worker_id": None,
        "lease_token": None, "lease_expires_at": None, "value": None, "metrics": None,
        "last_epoch": None, "error": None, "stop_reason": None, "seq": 0,
        "created_at": now, "started_at": None, "finished_at": None,
    })


def _next_trial(connection: Connection, search: RowState, now: datetime) -> RowState | None:
    """The oldest pending trial, or a newly proposed one; None when there is none for now."""
    if search.count_pending:
        row = connection.execute(_OLDEST_PENDING, {"search_id": search.id}).one()
        return RowState(row._mapping)
    if search.n_trials >= search.max_trials:
        return None
    plan = plans.plan_of(search.spec_text)
    proposal = plans.propose(connection, plan, search.id, search.n_trials)
    if proposal is None:
        # The sampler waits for trials in flight (coarse_to_fine between rounds); with
        # none in flight its history can no longer change: it is exhausted.
        if search.count_running == 0:
            search.max_trials = search.n_trials
            finish_if_done(search, now)
        return None
    if proposal.box is not None and all(r["round"] != proposal.round for r in search.rounds):
        search.rounds = [*search.rounds, {"round": proposal.round, "box": proposal.box}]
    trial = _new_trial(search, proposal.params, proposal.round or 0, now)
    search.n_trials += 1
    count(search, "pending", +1)
    return trial


def claim(db: Database, worker_id: str, search_id: int | None, lease_seconds: float
          ) -> Claimed | None:
    """Hand one trial to the worker: of the given search, or of the oldest search with work.

    On PostgreSQL this process remembers the trial it handed out, for its
    reports (service.store.report_write).
    """
    claimed = _claim(db, worker_id, search_id, lease_seconds)
    if (claimed is not None and db.is_postgres
            and plans.plan_of(claimed.spec_text).early_stopping is None):
        _known_trials(db).remember(_known_trial(claimed.spec, claimed.trial))
    return claimed


def _claim(db: Database, worker_id: str, search_id: int | None, lease_seconds: float
          ) -> Claimed | None:
    """`claim`'s transactions.

    Without a search, running searches are tried oldest first, skipping those
    another claim holds (PostgreSQL's SKIP LOCKED); only if none of the free
    ones has work are the skipped ones waited for, one transaction and one
    lock at a time, so that two scanning claims can never deadlock.
    """
    if search_id is not None:
        with db.write_connection() as connection:
            now = utcnow()
            search = lock_search_to_claim(connection, search_id, db.is_postgres, now)
            if search is None:
                raise NotFound(f"search {search_id} not found")
            return _claim_in(connection, search, worker_id, now, lease_seconds)
    skipped = []
    with db.write_connection() as connection:
        candidates = connection.scalars(
            select(SEARCHES.c.id).where(SEARCHES.c.status == "running").order_by(SEARCHES.c.id)
        ).all()
        for candidate in candidates:
            now = utcnow()
            search = lock_search_to_claim(connection, candidate, db.is_postgres, now,
                                          skip_locked=True)
            if search is None:
                skipped.append(candidate)
                continue
            claimed = _claim_in(connection, search, worker_id, now, lease_seconds)
            if claimed is not None:
                return claimed
    for candidate in skipped:
        with db.write_connection() as connection:
            now = utcnow()
            search = lock_search_to_claim(connection, candidate, db.is_postgres, now)
            if search is None:
                continue
            claimed = _claim_in(connection, search, worker_id, now, lease_seconds)
            if claimed is not None:
                return claimed
    return None


def _claim_in(connection: Connection, search: RowState, worker_id: str, now: datetime,
              lease_seconds: float) -> Claimed | None:
    """Hand out one trial of the locked search (read by `lock_search_to_claim`), or None
    when it has no work for now."""
    if search.status != "running":
        return None
    if search.lease_expired:
        requeue_expired(connection, search, now)
    trial = None
    if search.status == "running" and search.count_running < search.spec["budget"][
            "max_parallel"]:
        trial = _next_trial(connection, search, now)
    if trial is not None:
        _assign(search, trial, worker_id, now, lease_seconds)
    writes = Writes()
    writes.update(SEARCHES, search)
    if trial is not None and trial.id is None:
        writes.insert(TRIALS, trial)
    elif trial is not None:
        writes.update(TRIALS, trial)
    writes.run(connection)
    return None if trial is None else Claimed(trial, search.spec_text)


def _leased(connection: Connection, db: Database, trial_id: int, lease_token: str
            ) -> tuple[RowState, RowState]:
    """The trial and its locked search, if the token is current and the trial running."""
    search, trial = lock_search_of_trial(connection, trial_id, db.is_postgres)
    _check_lease(trial, lease_token)
    return search, trial


def _check_lease(trial: RowState, lease_token: str) -> None:
    trial_id = trial.id
    if trial.lease_token != lease_token:
        raise Conflict(f"trial {trial_id}: the lease token is not the trial's current one "
                       "(the lease expired or the trial was handed to another worker)")
    if trial.status != "running":
        raise Conflict(f"trial {trial_id} is {trial.status}, not running")


def _action(trial: RowState) -> Action:
    """Stop once the trial has a stop reason (set by cancel, a user's stop, or a rule)."""
    return Action(trial.stop_reason is not None, trial.stop_reason, trial.lease_expires_at)


_EXTEND_LEASE = (
    update(TRIALS)
    .where(TRIALS.c.id == bindparam("trial_id"), TRIALS.c.lease_token == bindparam("token"),
           TRIALS.c.status == "running")
    .values(lease_expires_at=bindparam("expires_at"))
    .returning(TRIALS.c.stop_reason)
)


def heartbeat(db: Database, trial_id: int, lease_token: str, lease_seconds: float) -> Action:
    """Extend the lease; say whether the trial should stop.

    One statement that checks the lease as it writes: a heartbeat changes nothing
    but the trial's lease, so it needs no lock on the search (and moves no cursor).
    """
    with db.statement_connection() as connection:
        expires_at = later(utcnow(), lease_seconds)
        row = first(connection, _EXTEND_LEASE, {"trial_id": trial_id, "token": lease_token,
                                                "expires_at": expires_at})
        if row is None:
            _, trial = read_search_of_trial(connection, trial_id)
            _check_lease(trial, lease_token)
            raise Conflict(f"trial {trial_id}: its lease changed while being extended")
        stop_reason = row[0]
        return Action(stop_reason is not None, stop_reason, expires_at)


@cache
def _insert_epoch(postgres: bool) -> Insert:
    """INSERT of one epoch's row that does nothing if the epoch is already stored."""
    dialect_insert = postgresql.insert if postgres else sqlite.insert
    columns = ("trial_id", "epoch", "value", "metrics", "created_at")
    return (dialect_insert(INTERMEDIATE)
            .values({name: bindparam(f"intermediate_{name}") for name in columns})
            .on_conflict_do_nothing(index_elements=["trial_id", "epoch"])
            .returning(INTERMEDIATE.c.id))


Epochs = Sequence[tuple[int, dict[str, float | None]]]


def report(db: Database, trial_id: int, lease_token: str, epochs: Epochs,
           lease_seconds: float) -> Action:
    """Store epochs' metrics (once per epoch) in one transaction; say continue or stop.

    Each epoch not stored before counts as if reported alone: its row, the best
    value, `last_epoch`, and the early-stopping rule evaluated after it. The lease
    is extended and the change cursor bumped once, if anything new was stored.

    On PostgreSQL the usual report (epochs after the latest stored, no
    early-stopping rule) is decided from the trial as this process last wrote
    it, or else as read without locks, and written in one checked statement
    (service.store.report_write); any other, or one whose trial changed
    meanwhile, is decided under the search's lock.
    """
    if db.is_postgres:
        action = _report_unlocked(db, trial_id, lease_token, epochs, lease_seconds)
        if action is not None:
            return action
    return _report_locked(db, trial_id, lease_token, epochs, lease_seconds)


def _report_unlocked(db: Database, trial_id: int, lease_token: str, epochs: Epochs,
                     lease_seconds: float) -> Action | None:
    """A report of new epochs without an early-stopping rule, in one statement, decided
    from the trial as this process knows it or else as read without locks.

    None if the report is not of that kind, or if the trial changed between the
    read and the write (nothing is written then).
    """
    known_trials = _known_trials(db)
    with db.statement_connection() as connection:
        known = known_trials.get(trial_id)
        if known is not None and known.lease_token == lease_token:
            action = _write_report(connection, known_trials, known, epochs, lease_seconds)
            if action is not None:
                return action
        search, trial = read_search_of_trial(connection, trial_id)
        _check_lease(trial, lease_token)
        if plans.plan_of(search.spec_text).early_stopping is not None:
            return None
        return _write_report(connection, known_trials, _known_trial(search.spec, trial),
                             epochs, lease_seconds)


def _write_report(connection: DriverConnection, known_trials: KnownTrials, known: KnownTrial,
                  epochs: Epochs, lease_seconds: float) -> Action | None:
    """Write the report as decided from `known` (service.store.report_write); None if an
    epoch may have been stored before, or if the trial is no longer as known."""
    if known.last_epoch is not None and epochs[0][0] <= known.last_epoch:
        return None
    now = utcnow()
    values = [metrics.get(known.metric) for _, metrics in epochs]
    best = known.value
    for value in values:
        if value is not None and better(known.goal, value, best):
            best = value
    expires_at = later(now, lease_seconds)
    written = first(connection, report_write(), {
        "report_search_id": known.search_id, "report_trial_id": known.trial_id, "now": now,
        "known_seq": known.seq, "known_lease_token": known.lease_token, "new_value": best,
        "new_last_epoch": epochs[-1][0], "new_lease_expires_at": expires_at,
        "epochs": json.dumps([{"epoch": epoch, "value": value, "metrics": metrics}
                              for (epoch, metrics), value in zip(epochs, values, strict=True)]),
    })
    if written is None:
        known_trials.forget(known.trial_id)
        return None
    known_trials.remember(replace(known, seq=written[0], value=best, last_epoch=epochs[-1][0]))
    return Action(known.stop_reason is not None, known.stop_reason, expires_at)


def _known_trial(spec: dict[str, Any], trial: RowState) -> KnownTrial:
    objective = spec["objective"]
    return KnownTrial(trial.id, trial.search_id, trial.lease_token, trial.seq, trial.value,
                      trial.last_epoch, trial.stop_reason, objective["metric"],
                      objective["goal"])


_KNOWN_TRIALS: WeakKeyDictionary[Database, KnownTrials] = WeakKeyDictionary()


def _known_trials(db: Database) -> KnownTrials:
    """The trials this process knows of the database (see service.store.report_write)."""
    known = _KNOWN_TRIALS.get(db)
    if known is None:
        known = _KNOWN_TRIALS[db] = KnownTrials()
    return known


def _report_locked(db: Database, trial_id: int, lease_token: str, epochs: Epochs,
                   lease_seconds: float) -> Action:
    """`report` under the search's lock, for any report.

    An epoch after `last_epoch` (the latest stored: the usual case) is new for
    sure, so its row is written with the trial's changes at the end; an earlier
    one is inserted at once to learn whether it was stored before, and so is
    every epoch when an early-stopping rule must read it.
    """
    with db.write_connection(durable=False) as connection:
        now = utcnow()
        search, trial = _leased(connection, db, trial_id, lease_token)
        objective = search.spec["objective"]
        plan = plans.plan_of(search.spec_text)
        insert = _insert_epoch(db.is_postgres)
        writes = Writes()
        stored = False
        for epoch, metrics in epochs:
            value = metrics.get(objective["metric"])
            row = {"intermediate_trial_id": trial.id, "intermediate_epoch": epoch,
                   "intermediate_value": value, "intermediate_metrics": metrics,
                   "intermediate_created_at": now}
            if plan.early_stopping is None and (trial.last_epoch is None
                                                or epoch > trial.last_epoch):
                writes.add(INTERMEDIATE, insert, row)
            elif first(connection, insert, row) is None:
                continue  # this epoch was reported before: nothing changes
            stored = True
            if value is not None and better(objective["goal"], value, trial.value):
                trial.value = value
            trial.last_epoch = epoch if trial.last_epoch is None else max(trial.last_epoch,
                                                                          epoch)
            if (trial.stop_reason is None and value is not None
                    and plans.should_stop_early(connection, plan, search.id, trial.id, epoch)):
                trial.stop_reason = f"pruned by {search.spec['early_stopping']['kind']} rule"
        if stored:
            trial.lease_expires_at = later(now, lease_seconds)
            touch(search, trial, now)
            write_back(connection, (TRIALS, trial), (SEARCHES, search), after=writes)
        return _action(trial)


def complete(db: Database, trial_id: int, lease_token: str, metrics: dict[str, float | None]
             ) -> RowState:
    """Finish the trial with its final metrics; the same call again changes nothing."""
    with db.write_connection() as connection:
        now = utcnow()
        search, trial = lock_search_of_trial(connection, trial_id, db.is_postgres)
        if (trial.lease_token == lease_token and trial.status != "running"
                and trial.metrics == metrics):
            return trial
        _check_lease(trial, lease_token)
        objective = search.spec["objective"]["metric"]
        value = metrics.get(objective)
        if value is None or not math.isfinite(value):
            raise Invalid(["body", "metrics", objective],
                          f"the objective metric {objective!r} must be present and finite")
        trial.metrics = metrics
        trial.value = value
        status = end_status(trial, search)
        move(search, trial, status, now)
        if status == "completed":
            note_completed(search, trial)
        finish_if_done(search, now)
        write_back(connection, (TRIALS, trial), (SEARCHES, search))
        return trial


def fail(db: Database, trial_id: int, lease_token: str, error: str, retry: bool) -> RowState:
    """Record the worker's failure: failed, or back to pending when it asks for a retry."""
    with db.write_connection() as connection:
        now = utcnow()
        search, trial = _leased(connection, db, trial_id, lease_token)
        if retry:
            release(connection, search, trial, now, error)
        else:
            trial.error = error
            move(search, trial, "failed", now)
            finish_if_done(search, now)
        write_back(connection, (TRIALS, trial), (SEARCHES, search))
        return trial


def stop(db: Database, trial_id: int) -> RowState:
    """A user asks a running trial to stop; its worker hears it at its next call."""
    with db.write_connection() as connection:
        now = utcnow()
        search, trial = lock_search_of_trial(connection, trial_id, db.is_postgres)
        if trial.status != "running":
            raise Conflict(f"trial {trial_id} is {trial.status}, not running: nothing to stop")
        if trial.stop_reason is None:
            trial.stop_reason = STOPPED_BY_USER
            touch(search, trial, now)
            write_back(connection, (TRIALS, trial), (SEARCHES, search))
        return trial
