"""The lifecycle's calls, stored: claim, heartbeat, report, complete, fail; a user's stop, a
search's cancel and re-tests, and the sweep of expired leases.

Each call is one write transaction that locks the trial's search first: a
locked read into records (service.store.rows), the decision by
domain.lifecycle, the changed columns written back, COMMIT. The rules live in
domain.lifecycle.transitions; this module reads, writes and orders.

`Lifecycle` runs on any supported database with SQLAlchemy Core.
service.store.postgres.lifecycle keeps the same calls and behaviour and makes
the hot ones cheaper on PostgreSQL; `open_lifecycle` picks one. The tests run
on SQLite, on PostgreSQL through the fast path, and on PostgreSQL through this
portable one (tests/conftest.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Insert, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from domain.errors import Conflict, Invalid, NotFound
from domain.lifecycle.records import Metrics, SearchRecord, TrialRecord
from domain.lifecycle.states import SearchStatus, StopCause, TrialStatus
from domain.lifecycle.transitions import (
    Event,
    assign,
    cancel,
    check_lease,
    check_repeat,
    ends_when_released,
    exhaust,
    fail,
    finish,
    finished_with,
    has_room,
    lease_end,
    new_trial,
    pause,
    record_epoch,
    reported,
    request_stop,
    requeue,
    stop,
)
from service.db.models import utcnow
from service.db.session import Database
from service.search.early_stopping import MedianRule
from service.search.plans import Plan, plan_of, propose
from service.search.rungs import RungRule
from service.store import retests
from service.store.history import HistoryCache
from service.store.rows import ClaimStart, Rows
from service.store.rungs import (
    StoredCheckpoint,
    checkpoint_data,
    checkpoint_info,
    forget_progress,
    judge,
    promotable,
    promote,
    settle_spent,
    store_checkpoint,
    tidy_checkpoints,
)
from service.store.statements import CoreStatements, Statements
from service.store.tables import INTERMEDIATE, TRIALS, lease_ran_out, spec_json

Epochs = Sequence[tuple[int, Metrics]]


def _rung_rule(plan: Plan) -> RungRule | None:
    """The plan's ASHA or Hyperband rule, if it has one."""
    return plan.early_stopping if isinstance(plan.early_stopping, RungRule) else None


@dataclass(frozen=True)
class Claimed:
    """A trial handed to a worker, and its search; a promoted trial's checkpoint to resume."""

    trial: TrialRecord
    search: SearchRecord
    checkpoint: StoredCheckpoint | None = None

    @property
    def spec(self) -> dict[str, Any]:
        """The search's stored spec as JSON (shared: do not change it)."""
        return spec_json(self.search.spec_text)

    @property
    def decide_at(self) -> list[int]:
        """The epoch counts after which the server decides whether the trial goes on (its
        rungs, for ASHA and Hyperband): its worker waits for the verdict there."""
        rule = _rung_rule(plan_of(self.search.spec_text))
        if rule is None or self.trial.origin_trial_id is not None:  # re-tests are not judged
            return []
        epochs = self.search.spec.trial_epochs(self.trial.params)
        done = 0 if self.checkpoint is None else self.checkpoint.epoch
        return [rung for rung in rule.rungs(self.trial.bracket or 0, epochs) if rung > done]


def _clashes_on_claim_key(error: IntegrityError) -> bool:
    """Whether the error is a second running trial of one worker's claim key (the unique
    index names it on PostgreSQL, its columns on SQLite)."""
    return "claim_key" in str(error.orig)


def _claimed_before(rows: Rows, trial_id: int) -> Claimed:
    """The trial a claim of the same key took (it still runs under that claim's lease), as
    that claim answered it, with the checkpoint it resumes from."""
    search, trial = rows.read_search_of_trial(trial_id)
    checkpoint = (None if trial.checkpoint_epoch is None or trial.id is None
                  else checkpoint_info(rows, trial.id))
    return Claimed(trial, search, checkpoint)


@dataclass(frozen=True)
class Instruction:
    """What a worker is told after a heartbeat or a report: stop (with the reason) or go on,
    and when its lease now ends."""

    reason: str | None
    lease_expires_at: datetime | None
    pause: bool = False
    """The trial is to pause at its rung: its worker sends a checkpoint."""

    @property
    def stop(self) -> bool:
        """True once the trial was told to stop (by a user, a rule, or a cancel) or pause."""
        return self.reason is not None

    @classmethod
    def told(cls, reason: str | None, cause: str | None, lease_expires_at: datetime | None
             ) -> Instruction:
        """What a trial told `reason` for `cause` (its stored columns) hears."""
        return cls(reason, lease_expires_at, cause == StopCause.PAUSE)

    @classmethod
    def of(cls, trial: TrialRecord) -> Instruction:
        """What the trial's worker is told now."""
        return cls.told(trial.stop_reason, trial.stop_cause, trial.lease_expires_at)


# A heartbeat's `check_lease` and `extend` as one statement: it changes nothing but the
# trial's lease, so it needs no lock on the search (and moves no cursor).
_EXTEND_LEASE = (
    update(TRIALS)
    .where(TRIALS.c.id == bindparam("trial_id"), TRIALS.c.lease_token == bindparam("token"),
           TRIALS.c.status == TrialStatus.RUNNING)
    .values(lease_expires_at=bindparam("expires_at"))
    .returning(TRIALS.c.stop_reason, TRIALS.c.stop_cause)
)
_EXPIRED_SEARCHES = select(TRIALS.c.search_id).where(lease_ran_out())


@cache
def _insert_epoch(backend: str) -> Insert:
    """INSERT of one epoch's row that does nothing if the epoch is already stored."""
    dialect_insert = postgresql.insert if backend == "postgresql" else sqlite.insert
    columns = ("trial_id", "epoch", "value", "metrics", "created_at")
    return (dialect_insert(INTERMEDIATE)
            .values({name: bindparam(f"intermediate_{name}") for name in columns})
            .on_conflict_do_nothing(index_elements=["trial_id", "epoch"])
            .returning(INTERMEDIATE.c.id))


class Lifecycle:
    """The lifecycle's calls on one database, with SQLAlchemy Core."""

    def __init__(self, db: Database, lease_seconds: float) -> None:
        self.db = db
        self.lease_seconds = lease_seconds
        self._histories = HistoryCache()

    def _statements(self, connection: Connection) -> Statements:
        """How statements run on a connection of this database."""
        return CoreStatements(connection)

    @contextmanager
    def _transaction(self, durable: bool = True) -> Iterator[Rows]:
        """A write transaction's rows (see Database.write_connection for `durable`)."""
        with self.db.write_connection(durable) as connection:
            yield Rows(self._statements(connection))

    @contextmanager
    def _single_statements(self) -> Iterator[Statements]:
        """A connection for writes that are each one statement and check what they depend on
        as they write; not durable. Here, one write transaction."""
        with self.db.write_connection(durable=False) as connection:
            yield self._statements(connection)

    # --- claim ---------------------------------------------------------------------------------

    def claim(self, worker_id: str, search_id: int | None, claim_key: str | None = None
              ) -> Claimed | None:
        """Hand one trial to the worker: of the given search, or of the oldest search with work.

        Without a search, running searches are tried oldest first, skipping those
        another claim holds (PostgreSQL's SKIP LOCKED); only if none of the free
        ones has work are the skipped ones waited for, one transaction and one
        lock at a time, so that two scanning claims can never deadlock.

        A claim with a key that already took a trial still running for this worker (the
        worker retries a claim whose answer it lost) is answered that trial again; the
        claim's first statement asks for it, so a key costs no round trip of its own.
        A retry sent while its claim is still in flight may ask before that claim
        commits; the trial it then takes clashes with that claim's on the unique index of
        running trials' keys, and it asks again. If the key's trial still clashes then
        (its lease ran out, and it is not requeued yet), the claim goes on without a key.
        """
        for _ in range(2 if claim_key is not None else 0):
            try:
                return self._claim_once(worker_id, search_id, claim_key)
            except IntegrityError as error:
                if not _clashes_on_claim_key(error):
                    raise
        return self._claim_once(worker_id, search_id, None)

    def _claim_once(self, worker_id: str, search_id: int | None, claim_key: str | None
                    ) -> Claimed | None:
        """One try of the claim; on an error, the samplers' history is forgotten (the failed
        transactions may have left it ahead of the database)."""
        try:
            return self._claim(worker_id, search_id, claim_key)
        except NotFound:  # no such search: nothing was read
            raise
        except BaseException:
            self._histories.clear()
            raise

    def _claim(self, worker_id: str, search_id: int | None, claim_key: str | None
               ) -> Claimed | None:
        """Lifecycle.claim, whose transactions may leave the samplers' history ahead of the
        database if they fail."""
        if search_id is not None:
            with self._transaction() as rows:
                now = utcnow()
                start = rows.lock_search_to_claim(search_id, now, worker_id=worker_id,
                                                  claim_key=claim_key)
                if start is None:
                    raise NotFound(f"search {search_id} not found")
                if start.key_trial_id is not None:
                    return _claimed_before(rows, start.key_trial_id)
                return self._claim_in(rows, start, worker_id, claim_key, now)
        skipped = []
        with self._transaction() as rows:
            candidates, key_trial_id = rows.running_search_ids(utcnow(), worker_id, claim_key)
            if key_trial_id is not None:
                return _claimed_before(rows, key_trial_id)
            for candidate in candidates:
                now = utcnow()
                start = rows.lock_search_to_claim(candidate, now, skip_locked=True)
                if start is None:
                    skipped.append(candidate)
                    continue
                claimed = self._claim_in(rows, start, worker_id, claim_key, now)
                if claimed is not None:
                    return claimed
        for candidate in skipped:
            with self._transaction() as rows:
                now = utcnow()
                start = rows.lock_search_to_claim(candidate, now)
                claimed = None if start is None else self._claim_in(
                    rows, start, worker_id, claim_key, now)
                if claimed is not None:
                    return claimed
        return None

    def _claim_in(self, rows: Rows, start: ClaimStart, worker_id: str, claim_key: str | None,
                  now: datetime) -> Claimed | None:
        """Hand out one trial of the locked search, or None when it has no work for now."""
        search, lease_expired = start.search, start.lease_expired
        if search.status != SearchStatus.RUNNING:
            return None
        if lease_expired:
            self._requeue_expired(rows, search, now)
        trial, checkpoint = None, None
        if has_room(search):
            trial, checkpoint = self._next_trial(rows, search, now)
        if trial is not None:
            assign(search, trial, worker_id, now, self.lease_seconds, claim_key)
        rows.update(search)
        if trial is not None and trial.id is None:
            rows.insert(trial)
        elif trial is not None:
            rows.update(trial)
        rows.flush()
        return None if trial is None else Claimed(trial, search, checkpoint)

    def _next_trial(self, rows: Rows, search: SearchRecord, now: datetime
                    ) -> tuple[TrialRecord | None, StoredCheckpoint | None]:
        """A paused trial promoted (with its checkpoint), the oldest pending trial, or a newly
        proposed one; None when there is none for now."""
        plan = plan_of(search.spec_text)
        rule = _rung_rule(plan)
        if rule is not None:
            promotion = promotable(rows, search, rule)
            if promotion is not None:
                promote(rows, promotion)
                return promotion.trial, promotion.checkpoint
        if search.counts[TrialStatus.PENDING]:
            return rows.oldest_pending(search), None
        if search.n_trials >= search.max_trials:
            settle_spent(rows, search, rule, now)
            return None, None
        history = self._histories.history(rows, search, with_rungs=rule is not None)
        proposal = propose(plan, history)
        if proposal is None:
            # The sampler waits for trials in flight (coarse_to_fine between rounds); with
            # none in flight its history can no longer change: it is exhausted.
            if search.counts[TrialStatus.RUNNING] == 0:
                exhaust(search, now)
            return None, None
        if proposal.box is not None and all(r["round"] != proposal.round for r in search.rounds):
            search.rounds = [*search.rounds, {"round": proposal.round, "box": proposal.box}]
        bracket = None if rule is None else rule.bracket_of(len(history))
        return new_trial(search, proposal.params, proposal.round or 0, now, bracket), None

    # --- leases --------------------------------------------------------------------------------

    def heartbeat(self, trial_id: int, lease_token: str) -> Instruction:
        """Extend the lease; say whether the trial should stop. One checked statement."""
        with self._single_statements() as sql:
            expires_at = lease_end(utcnow(), self.lease_seconds)
            row = sql.first(_EXTEND_LEASE, {"trial_id": trial_id, "token": lease_token,
                                            "expires_at": expires_at})
            if row is None:
                _, trial = Rows(sql).read_search_of_trial(trial_id)
                check_lease(trial, lease_token, Event.EXTEND)
                raise Conflict(f"trial {trial_id}: its lease changed while being extended")
            return Instruction.told(row[0], row[1], expires_at)

    def requeue_expired(self) -> int:
        """Take back every trial whose lease ran out, in every search (the server's sweep);
        how many."""
        now = utcnow()
        with self.db.read_connection() as connection:
            # No DISTINCT in SQL: with it SQLite scans the (search_id, status) index
            # instead of using the lease-expiry index.
            search_ids = connection.scalars(_EXPIRED_SEARCHES, {"now": now}).all()
        released = 0
        for search_id in sorted(set(search_ids)):
            with self._transaction() as rows:
                search = rows.lock_search(search_id)
                if search is not None:
                    released += self._requeue_expired(rows, search, now)
                    rows.save(search)
        return released

    def _requeue_expired(self, rows: Rows, search: SearchRecord, now: datetime) -> int:
        """Take back the (locked) search's trials whose lease ran out; how many. Their writes
        are queued; the caller writes the search."""
        expired = rows.expired(search, now)
        for trial in expired:
            previous_best = search.best_trial_id
            requeue(search, trial, now, self._result_if_it_ends(rows, search, trial))
            self._after_end(rows, search, trial, previous_best, now)
            rows.update(trial)
        return len(expired)

    @staticmethod
    def _result_if_it_ends(rows: Rows, search: SearchRecord, trial: TrialRecord
                           ) -> Metrics | None:
        """The metrics of the trial's last reported epoch if, taken from its worker now, it
        ends (told to stop): its result (domain.lifecycle.transitions.release)."""
        return rows.last_epoch_metrics(trial) if ends_when_released(search, trial) else None

    @staticmethod
    def _after_end(rows: Rows, search: SearchRecord, trial: TrialRecord,
                   previous_best: int | None, now: datetime) -> None:
        """Tidy up after the trial left its worker: a trial to run again loses its progress
        (epochs, rung values, checkpoint); one that ended keeps its checkpoint only if it is
        the best; paused trials end once nothing can lift them."""
        if trial.status == TrialStatus.PENDING:
            rows.delete_epochs(trial)
            forget_progress(rows, trial)
        tidy_checkpoints(rows, search, trial, previous_best)
        settle_spent(rows, search, _rung_rule(plan_of(search.spec_text)), now)

    # --- reports -------------------------------------------------------------------------------

    def report(self, trial_id: int, lease_token: str, epochs: Epochs) -> Instruction:
        """Store epochs' metrics (once per epoch) in one transaction; say continue or stop.

        Each epoch not stored before counts as if reported alone: its row, the best
        value, `last_epoch`, and the early-stopping rule judged after it. The lease
        is extended and the cursor moved once, if anything new was stored.

        An epoch after `last_epoch` (the latest stored: the usual case) is new for
        sure, so its row is written with the trial's changes at the end; an earlier
        one is inserted at once to learn whether it was stored before, and so is
        every epoch when an early-stopping rule must read it.
        """
        with self._transaction(durable=False) as rows:
            now = utcnow()
            search, trial = rows.lock_search_of_trial(trial_id)
            check_lease(trial, lease_token, Event.REPORT)
            plan = plan_of(search.spec_text)
            rule = _rung_rule(plan)
            objective = search.spec.objective
            insert = _insert_epoch(self.db.backend)
            stored = False
            for epoch, metrics in epochs:
                value = metrics.get(objective.metric)
                row = {"intermediate_trial_id": trial.id, "intermediate_epoch": epoch,
                       "intermediate_value": value, "intermediate_metrics": metrics,
                       "intermediate_created_at": now}
                if plan.early_stopping is None and (trial.last_epoch is None
                                                    or epoch > trial.last_epoch):
                    rows.queue(INTERMEDIATE, insert, row)
                elif not rows.insert_now(insert, row):
                    # Reported before: a repeat changes nothing; other metrics are a 409.
                    check_repeat(trial, epoch, metrics, rows.epoch_metrics(trial_id, epoch))
                    continue
                stored = True
                record_epoch(trial, epoch, value, objective.goal)
                if trial.stop_cause is not None or trial.origin_trial_id is not None:
                    continue  # told to stop already, or a re-test: it trains all its epochs
                if rule is not None:
                    cause = judge(rows, rule, search, trial, epoch, value, now)
                else:
                    cause = self._median_stop(rows, plan, search, trial, epoch, value)
                if cause is not None:
                    request_stop(trial, cause)
            if stored:
                reported(search, trial, now, self.lease_seconds)
                rows.save(trial, search)
            return Instruction.of(trial)

    @staticmethod
    def _median_stop(rows: Rows, plan: Plan, search: SearchRecord, trial: TrialRecord,
                     epoch: int, value: float | None) -> StopCause | None:
        """The median rule's cause if it stops the trial after this epoch, whose row is
        already written (it counts among the trial's values); else None."""
        rule = plan.early_stopping
        if not isinstance(rule, MedianRule) or value is None or trial.id is None:
            return None
        stops = rule.should_stop(epoch, rows.epoch_values(trial.id),
                                 rows.completed_values_at(search.id, epoch),
                                 search.spec.objective.goal)
        return StopCause.MEDIAN_RULE if stops else None

    # --- pausing and resuming at a rung ----------------------------------------------------------

    def pause(self, trial_id: int, lease_token: str, epoch: int, sha256: str, data: bytes
              ) -> TrialRecord:
        """Store the checkpoint of a trial told to pause, after `epoch` epochs, and pause it;
        Invalid if `sha256` is not the data's."""
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise Invalid(["query", "sha256"], f"the checkpoint's sha256 is {actual}, not "
                          f"{sha256}: it was damaged on the way; send it again")
        with self._transaction() as rows:
            now = utcnow()
            search, trial = rows.lock_search_of_trial(trial_id)
            check_lease(trial, lease_token, Event.PAUSE)
            pause(search, trial, epoch, now)
            if trial.id is not None:
                store_checkpoint(rows, trial.id, epoch, sha256, data, now)
            settle_spent(rows, search, _rung_rule(plan_of(search.spec_text)), now)
            rows.save(trial, search)
            return trial

    def checkpoint(self, trial_id: int, lease_token: str) -> tuple[int, str, bytes]:
        """(epochs, sha256, data) of the checkpoint the trial's worker resumes from."""
        with self.db.read_connection() as connection:
            rows = Rows(self._statements(connection))
            _, trial = rows.read_search_of_trial(trial_id)
            check_lease(trial, lease_token, Event.REPORT)
            stored = checkpoint_data(rows, trial_id)
            if stored is None:
                raise NotFound(f"trial {trial_id} has no checkpoint")
            return stored

    # --- the end of a trial --------------------------------------------------------------------

    def complete(self, trial_id: int, lease_token: str, metrics: Metrics) -> TrialRecord:
        """Finish the trial with its final metrics; the same call again changes nothing."""
        with self._transaction() as rows:
            now = utcnow()
            search, trial = rows.lock_search_of_trial(trial_id)
            if finished_with(trial, lease_token, metrics):
                return trial
            check_lease(trial, lease_token, Event.FINISH)
            previous_best = search.best_trial_id
            finish(search, trial, metrics, now)
            self._after_end(rows, search, trial, previous_best, now)
            rows.save(trial, search)
            return trial

    def fail(self, trial_id: int, lease_token: str, error: str, retry: bool) -> TrialRecord:
        """Record the worker's failure: failed, or back to pending when it asks for a retry."""
        with self._transaction() as rows:
            now = utcnow()
            search, trial = rows.lock_search_of_trial(trial_id)
            check_lease(trial, lease_token, Event.FAIL)
            previous_best = search.best_trial_id
            result = self._result_if_it_ends(rows, search, trial) if retry else None
            fail(search, trial, error, retry, now, result)
            self._after_end(rows, search, trial, previous_best, now)
            rows.save(trial, search)
            return trial

    def stop(self, trial_id: int) -> TrialRecord:
        """A user asks a running trial to stop; its worker hears it at its next call."""
        with self._transaction() as rows:
            search, trial = rows.lock_search_of_trial(trial_id)
            stop(search, trial, utcnow())
            rows.save(trial, search)
            return trial

    def retest(self, search_id: int, top: int, seeds: int, max_trials_limit: int
               ) -> list[TrialRecord]:
        """Add `seeds` re-tests of each of the search's best `top` completed trials
        (service.store.retests.add); the new pending trials."""
        with self._transaction() as rows:
            return retests.add(rows, search_id, top, seeds, max_trials_limit, utcnow())

    def cancel(self, search_id: int) -> None:
        """Cancel the search: pending trials are cancelled, running ones told to stop."""
        with self._transaction() as rows:
            search = rows.lock_search(search_id)
            if search is None:
                raise NotFound(f"search {search_id} not found")
            live = rows.live(search) if search.status == SearchStatus.RUNNING else []
            cancel(search, live, utcnow())
            for trial in live:
                tidy_checkpoints(rows, search, trial, None)
            rows.save(search, *live)
