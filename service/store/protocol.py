"""The worker protocol: claim, heartbeat, report, complete, fail; and a user's stop.

Each call is one write transaction that locks the trial's search first.
A worker write must carry the trial's current lease token and find the trial
running; otherwise it is a Conflict (409) and the worker drops the trial.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db.models import Intermediate, Search, Trial
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
    lock_search,
    lock_search_of_trial,
    move,
    note_completed,
    touch,
    utcnow,
)
from service.store.leases import release, requeue_expired


@dataclass(frozen=True)
class Claimed:
    """A trial handed to a worker, with its search (for the assignment's spec parts)."""

    trial: Trial
    search: Search


@dataclass(frozen=True)
class Action:
    """What a worker is told after a heartbeat or report."""

    stop: bool
    reason: str | None
    lease_expires_at: datetime | None


def _assign(search: Search, trial: Trial, worker_id: str, now: datetime,
            lease_seconds: float) -> None:
    trial.worker_id = worker_id
    trial.lease_token = uuid.uuid4().hex
    trial.lease_expires_at = later(now, lease_seconds)
    trial.started_at = now
    move(search, trial, "running", now)


def _claim_in(session: Session, search: Search, worker_id: str, now: datetime,
              lease_seconds: float) -> Trial | None:
    """Hand out one trial of the locked search, or None when it has no work for now."""
    if search.status != "running":
        return None
    requeue_expired(session, search, now)
    if search.status != "running":
        return None
    if search.count_running >= search.spec["budget"]["max_parallel"]:
        return None
    if search.count_pending:
        trial = session.scalars(
            select(Trial)
            .where(Trial.search_id == search.id, Trial.status == "pending")
            .order_by(Trial.number)
            .limit(1)
        ).one()
        _assign(search, trial, worker_id, now, lease_seconds)
        return trial
    if search.n_trials >= search.max_trials:
        return None
    proposal = plans.propose(session, search)
    if proposal is None:
        # The sampler waits for trials in flight (coarse_to_fine between rounds); with
        # none in flight its history can no longer change: it is exhausted.
        if search.count_running == 0:
            search.max_trials = search.n_trials
            finish_if_done(search, now)
        return None
    if proposal.box is not None and all(r["round"] != proposal.round for r in search.rounds):
        search.rounds = [*search.rounds, {"round": proposal.round, "box": proposal.box}]
    trial = Trial(
        search_id=search.id, number=search.n_trials, params=proposal.params,
        round=proposal.round or 0, status="pending", attempt=1, created_at=now, seq=0,
    )
    session.add(trial)
    search.n_trials += 1
    count(search, "pending", +1)
    session.flush()
    _assign(search, trial, worker_id, now, lease_seconds)
    return trial


def claim(db: Database, worker_id: str, search_id: int | None, lease_seconds: float
          ) -> Claimed | None:
    """Hand one trial to the worker: of the given search, or of the oldest search with work.

    Without a search, running searches are tried oldest first, skipping those
    another claim holds (PostgreSQL's SKIP LOCKED); only if none of the free
    ones has work are the skipped ones waited for, one transaction and one
    lock at a time, so that two scanning claims can never deadlock.
    """
    if search_id is not None:
        with db.write() as session:
            search = lock_search(session, search_id, db.is_postgres)
            if search is None:
                raise NotFound(f"search {search_id} not found")
            trial = _claim_in(session, search, worker_id, utcnow(), lease_seconds)
            return Claimed(trial, search) if trial else None
    skipped = []
    with db.write() as session:
        candidates = session.scalars(
            select(Search.id).where(Search.status == "running").order_by(Search.id)
        ).all()
        for candidate in candidates:
            search = lock_search(session, candidate, db.is_postgres, skip_locked=True)
            if search is None:
                skipped.append(candidate)
                continue
            trial = _claim_in(session, search, worker_id, utcnow(), lease_seconds)
            if trial is not None:
                return Claimed(trial, search)
    for candidate in skipped:
        with db.write() as session:
            search = lock_search(session, candidate, db.is_postgres)
            if search is None:
                continue
            trial = _claim_in(session, search, worker_id, utcnow(), lease_seconds)
            if trial is not None:
                return Claimed(trial, search)
    return None


def _leased(session: Session, db: Database, trial_id: int, lease_token: str
            ) -> tuple[Search, Trial]:
    """The trial and its locked search, if the token is current and the trial running."""
    search, trial = lock_search_of_trial(session, trial_id, db.is_postgres)
    _check_lease(trial, lease_token)
    return search, trial


def _check_lease(trial: Trial, lease_token: str) -> None:
    trial_id = trial.id
    if trial.lease_token != lease_token:
        raise Conflict(f"trial {trial_id}: the lease token is not the trial's current one "
                       "(the lease expired or the trial was handed to another worker)")
    if trial.status != "running":
        raise Conflict(f"trial {trial_id} is {trial.status}, not running")


def _action(trial: Trial) -> Action:
    """Stop once the trial has a stop reason (set by cancel, a user's stop, or a rule)."""
    return Action(trial.stop_reason is not None, trial.stop_reason, trial.lease_expires_at)


def heartbeat(db: Database, trial_id: int, lease_token: str, lease_seconds: float) -> Action:
    """Extend the lease; say whether the trial should stop."""
    with db.write() as session:
        now = utcnow()
        _, trial = _leased(session, db, trial_id, lease_token)
        trial.lease_expires_at = later(now, lease_seconds)
        return _action(trial)


def report(db: Database, trial_id: int, lease_token: str, epoch: int,
           metrics: dict[str, float | None], lease_seconds: float) -> Action:
    """Store one epoch's metrics (once per epoch), extend the lease, say continue or stop."""
    with db.write() as session:
        now = utcnow()
        search, trial = _leased(session, db, trial_id, lease_token)
        seen = session.scalar(
            select(Intermediate.id).where(
                Intermediate.trial_id == trial.id, Intermediate.epoch == epoch
            )
        )
        if seen is not None:
            return _action(trial)
        objective = search.spec["objective"]
        value = metrics.get(objective["metric"])
        session.add(Intermediate(trial_id=trial.id, epoch=epoch, value=value,
                                 metrics=metrics, created_at=now))
        if value is not None and better(objective["goal"], value, trial.value):
            trial.value = value
        trial.last_epoch = epoch if trial.last_epoch is None else max(trial.last_epoch, epoch)
        trial.lease_expires_at = later(now, lease_seconds)
        if (trial.stop_reason is None and value is not None
                and plans.should_stop_early(session, search, trial, epoch)):
            trial.stop_reason = f"pruned by {search.spec['early_stopping']['kind']} rule"
        touch(search, trial, now)
        return _action(trial)


def complete(db: Database, trial_id: int, lease_token: str, metrics: dict[str, float | None]
             ) -> Trial:
    """Finish the trial with its final metrics; the same call again changes nothing."""
    with db.write() as session:
        now = utcnow()
        search, trial = lock_search_of_trial(session, trial_id, db.is_postgres)
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
            note_completed(session, search, trial)
        finish_if_done(search, now)
        return trial


def fail(db: Database, trial_id: int, lease_token: str, error: str, retry: bool) -> Trial:
    """Record the worker's failure: failed, or back to pending when it asks for a retry."""
    with db.write() as session:
        now = utcnow()
        search, trial = _leased(session, db, trial_id, lease_token)
        if retry:
            release(session, search, trial, now, error)
        else:
            trial.error = error
            move(search, trial, "failed", now)
            finish_if_done(search, now)
        return trial


def stop(db: Database, trial_id: int) -> Trial:
    """A user asks a running trial to stop; its worker hears it at its next call."""
    with db.write() as session:
        now = utcnow()
        search, trial = lock_search_of_trial(session, trial_id, db.is_postgres)
        if trial.status != "running":
            raise Conflict(f"trial {trial_id} is {trial.status}, not running: nothing to stop")
        if trial.stop_reason is None:
            trial.stop_reason = STOPPED_BY_USER
            touch(search, trial, now)
        return trial
