"""Every change of a trial's or a search's state: the transition table and the calls that
follow it, lease rules included.

The store reads records under the search's lock (service.store), calls one of
these functions, and writes back what changed. A function checks its event
against the table (`TRIALS` for trials, `SEARCHES` for searches) and raises
`IllegalTransition` (a 409) when the record's state does not allow it; so a
call on a trial that is no longer running is refused here, whatever route it
came from.

Bookkeeping travels with each change: the search counts its trials by state,
and every change of a trial but a lease extension moves the search's change
cursor (`last_seq`) and gives the trial the new value (`seq`), so pollers see
changes in commit order (the search row is locked, so the counts and the
cursor are exact).

Leases: a worker holds a running trial under a random token until
`lease_expires_at`; calls must bring the token (`check_lease`). A trial whose
lease ran out (`lease_expired`) is taken back (`requeue`): pending again with
attempt + 1, or failed when its attempts are spent, or ended as its stop cause
says if it was told to stop.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from domain.errors import Conflict, Invalid
from domain.lifecycle.records import Metrics, SearchRecord, TrialRecord
from domain.lifecycle.states import SearchStatus, StopCause, TrialStatus


class Event(StrEnum):
    """What happens to a trial; the table says from which states, to which."""

    ASSIGN = "assign"
    """A worker's claim takes the trial: a pending one, or a paused one promoted."""
    EXTEND = "extend"
    """A heartbeat extends the lease."""
    REPORT = "report"
    """The worker reports epochs."""
    STOP = "stop"
    """The trial is asked to stop (a user, an early-stopping rule, a cancel)."""
    RELEASE = "release"
    """The trial is taken from its worker: its lease ran out, or the worker gave it back."""
    PAUSE = "pause"
    """Told to pause at a rung, the worker stored the trial's checkpoint."""
    RETIRE = "retire"
    """The search's budget is spent and the paused trial can no longer rise: it ends."""
    FINISH = "finish"
    """The worker completes the trial with its final metrics."""
    FAIL = "fail"
    """The worker reports a failure it will not retry."""
    CANCEL = "cancel"
    """Its search is cancelled while the trial waits (pending or paused)."""


class SearchEvent(StrEnum):
    """What happens to a search."""

    FINISH = "finish"
    """Its budget is spent and no trial is in flight."""
    CANCEL = "cancel"
    """A user cancels it."""
    REOPEN = "reopen"
    """Re-tests of its trials are added to it after it completed: it runs again."""


_PENDING, _RUNNING, _PAUSED = TrialStatus.PENDING, TrialStatus.RUNNING, TrialStatus.PAUSED
TRIALS: Mapping[tuple[Event, TrialStatus], frozenset[TrialStatus]] = {
    (Event.ASSIGN, _PENDING): frozenset({_RUNNING}),
    (Event.ASSIGN, _PAUSED): frozenset({_RUNNING}),
    (Event.EXTEND, _RUNNING): frozenset({_RUNNING}),
    (Event.REPORT, _RUNNING): frozenset({_RUNNING}),
    (Event.STOP, _RUNNING): frozenset({_RUNNING}),
    (Event.RELEASE, _RUNNING): frozenset({_PENDING, TrialStatus.FAILED, TrialStatus.COMPLETED,
                                          TrialStatus.PRUNED, TrialStatus.CANCELLED}),
    (Event.FINISH, _RUNNING): frozenset({TrialStatus.COMPLETED, TrialStatus.PRUNED,
                                         TrialStatus.CANCELLED}),
    (Event.FAIL, _RUNNING): frozenset({TrialStatus.FAILED}),
    (Event.PAUSE, _RUNNING): frozenset({_PAUSED}),
    (Event.RETIRE, _PAUSED): frozenset({TrialStatus.PRUNED}),
    (Event.CANCEL, _PENDING): frozenset({TrialStatus.CANCELLED}),
    (Event.CANCEL, _PAUSED): frozenset({TrialStatus.CANCELLED}),
}
"""(event, state before) -> the states it may lead to. A pair not listed is illegal."""

SEARCHES: Mapping[tuple[SearchEvent, SearchStatus], frozenset[SearchStatus]] = {
    (SearchEvent.FINISH, SearchStatus.RUNNING): frozenset({SearchStatus.COMPLETED}),
    (SearchEvent.CANCEL, SearchStatus.RUNNING): frozenset({SearchStatus.CANCELLED}),
    (SearchEvent.REOPEN, SearchStatus.COMPLETED): frozenset({SearchStatus.RUNNING}),
}
"""(event, state before) -> the states it may lead to, for searches."""


class IllegalTransition(Conflict):
    """409: the trial's or search's state does not allow the event."""


class LeaseLost(Conflict):
    """409: the call's lease token is not the trial's current one."""


class EpochConflict(Conflict):
    """409: an epoch already stored is reported again with different metrics."""


def sources(event: Event) -> list[TrialStatus]:
    """The states a trial may be in for the event, in the order the enum lists them."""
    return [status for status in TrialStatus if (event, status) in TRIALS]


def allow(trial: TrialRecord, event: Event) -> None:
    """Raise IllegalTransition unless the trial's state allows the event."""
    if (event, trial.status) not in TRIALS:
        expected = " or ".join(sources(event))
        raise IllegalTransition(f"trial {trial.id} is {trial.status}, not {expected}: "
                                f"cannot {event}")


def touch(search: SearchRecord, trial: TrialRecord, now: datetime) -> None:
    """Record a change of the trial: the search's cursor moves and the trial takes its value."""
    search.last_seq += 1
    trial.seq = search.last_seq
    search.updated_at = now


def _move(search: SearchRecord, trial: TrialRecord, event: Event, to: TrialStatus,
          now: datetime) -> None:
    """Change the trial's state as the table allows, keeping counts and cursor right."""
    allow(trial, event)
    if to not in TRIALS[event, trial.status]:
        raise IllegalTransition(f"trial {trial.id}: {event} cannot take a {trial.status} "
                                f"trial to {to}")
    if to != trial.status:
        search.counts[trial.status] -= 1
        search.counts[to] += 1
        trial.status = to
    if to.terminal:
        trial.finished_at = now
        trial.lease_expires_at = None
    touch(search, trial, now)


def _move_search(search: SearchRecord, event: SearchEvent, to: SearchStatus,
                 now: datetime) -> None:
    if to not in SEARCHES.get((event, search.status), frozenset()):
        raise IllegalTransition(f"search {search.id} is {search.status}: cannot {event}")
    search.status = to
    search.finished_at = None if to == SearchStatus.RUNNING else now
    search.updated_at = now


# --- a trial's life ----------------------------------------------------------------------------

def new_trial(search: SearchRecord, params: dict[str, object], round_: int, now: datetime,
              bracket: int | None = None, origin_trial_id: int | None = None) -> TrialRecord:
    """The search's next trial, pending and counted, not yet stored (its id is None)."""
    trial = TrialRecord(
        id=None, search_id=search.id, number=search.n_trials, params=params, round=round_,
        status=TrialStatus.PENDING, attempt=1, worker_id=None, lease_token=None,
        lease_expires_at=None, claim_key=None, value=None, metrics=None, last_epoch=None,
        error=None, stop_reason=None, stop_cause=None, bracket=bracket, rung=None,
        checkpoint_epoch=None, origin_trial_id=origin_trial_id, seq=0, created_at=now,
        started_at=None, finished_at=None,
    )
    search.n_trials += 1
    search.counts[TrialStatus.PENDING] += 1
    return trial


def has_room(search: SearchRecord) -> bool:
    """Whether the running search may hand out one more trial now (max_parallel)."""
    return (search.status == SearchStatus.RUNNING
            and search.counts[TrialStatus.RUNNING] < search.spec.budget.max_parallel)


def assign(search: SearchRecord, trial: TrialRecord, worker_id: str, now: datetime,
           lease_seconds: float, claim_key: str | None = None) -> None:
    """Hand the pending trial, or the paused one promoted, to a worker under a new lease;
    `claim_key` names the worker's claim (ClaimRequest), so that its retry finds it."""
    if trial.status == TrialStatus.PAUSED:
        trial.stop_reason = None
    trial.worker_id = worker_id
    trial.claim_key = claim_key
    trial.lease_token = uuid.uuid4().hex
    trial.lease_expires_at = lease_end(now, lease_seconds)
    trial.started_at = now
    _move(search, trial, Event.ASSIGN, TrialStatus.RUNNING, now)


def better(goal: str, value: float, than: float | None) -> bool:
    """True if value beats than for the goal ("maximize" or "minimize"; anything beats None)."""
    if than is None:
        return True
    return value > than if goal == "maximize" else value < than


def record_epoch(trial: TrialRecord, epoch: int, value: float | None, goal: str) -> None:
    """Take one newly stored epoch of a running trial: its best value for the objective's
    goal, and its last epoch. The caller ends the report with `reported`, once for all
    its epochs."""
    allow(trial, Event.REPORT)
    if value is not None and better(goal, value, trial.value):
        trial.value = value
    trial.last_epoch = epoch if trial.last_epoch is None else max(trial.last_epoch, epoch)


def check_repeat(trial: TrialRecord, epoch: int, metrics: Metrics, stored: Metrics | None
                 ) -> None:
    """A report of an epoch already stored: harmless when it repeats the stored metrics (a
    request retried after its answer was lost), EpochConflict when they differ: an epoch's
    metrics, once stored, never change. A worker retrying a report sends the same metrics,
    so only a confused client (or two workers on one lease token) meets the conflict."""
    if stored is not None and stored != metrics:
        raise EpochConflict(f"trial {trial.id}: epoch {epoch} was already reported with "
                            "different metrics; an epoch's metrics cannot change")


def epochs_trained(trial: TrialRecord) -> int:
    """How many epochs the trial reported (epochs count from 0)."""
    return 0 if trial.last_epoch is None else trial.last_epoch + 1


def reported(search: SearchRecord, trial: TrialRecord, now: datetime, lease_seconds: float
             ) -> None:
    """End a report that stored something: the lease is extended and the cursor moves once."""
    extend(trial, now, lease_seconds)
    touch(search, trial, now)


def request_stop(trial: TrialRecord, cause: StopCause) -> bool:
    """Tell the running trial to stop for the cause, unless it was told before; True if told.

    Its worker hears it at its next report or heartbeat; the caller moves the cursor.
    """
    allow(trial, Event.STOP)
    if trial.stop_cause is not None:
        return False
    trial.stop_cause = cause
    trial.stop_reason = cause.reason
    return True


def stop(search: SearchRecord, trial: TrialRecord, now: datetime) -> None:
    """A user asks the running trial to stop; what it reached is its result."""
    if request_stop(trial, StopCause.USER):
        touch(search, trial, now)


def pause(search: SearchRecord, trial: TrialRecord, epoch: int, now: datetime) -> None:
    """The running trial told to pause (StopCause.PAUSE) has its checkpoint, taken after
    `epoch` epochs, stored: it pauses, its lease ends, and a claim may resume it later.

    The checkpoint must hold every epoch the trial reported, and no more: a resumed run
    goes on from the last stored epoch.
    """
    allow(trial, Event.PAUSE)
    if trial.stop_cause != StopCause.PAUSE:
        raise IllegalTransition(f"trial {trial.id} was not told to pause: it cannot pause")
    reported_epochs = epochs_trained(trial)
    if epoch != reported_epochs:
        raise Invalid(["body", "epoch"], f"the checkpoint holds {epoch} epochs but trial "
                      f"{trial.id} reported {reported_epochs}: report every epoch first")
    trial.checkpoint_epoch = epoch
    trial.stop_cause = None
    trial.stop_reason = "paused by asha"
    trial.worker_id = None
    trial.lease_token = None
    trial.lease_expires_at = None
    _move(search, trial, Event.PAUSE, _PAUSED, now)


def retire(search: SearchRecord, trial: TrialRecord, now: datetime) -> None:
    """End a paused trial that can no longer be resumed (the budget is spent): pruned at the
    rung where it paused. The caller drops its checkpoint."""
    allow(trial, Event.RETIRE)
    trial.stop_cause = StopCause.BUDGET_SPENT
    trial.error = None  # a lost attempt's error is not why it ended
    _move(search, trial, Event.RETIRE, TrialStatus.PRUNED, now)
    finish_if_done(search, now)


def final_status(search: SearchRecord, trial: TrialRecord) -> TrialStatus:
    """The state a running trial ends in when its run ends: by its search and stop cause."""
    if search.status == SearchStatus.CANCELLED:
        return TrialStatus.CANCELLED
    if (trial.stop_cause == StopCause.PAUSE  # it completes instead of pausing, having run out
            and epochs_trained(trial) >= search.spec.trial_epochs(trial.params)):
        return TrialStatus.COMPLETED
    if trial.stop_cause is not None:
        return trial.stop_cause.final_status
    return TrialStatus.COMPLETED


def objective_value(search: SearchRecord, metrics: Mapping[str, float | None]) -> float:
    """The objective metric's value among a completing trial's metrics; Invalid unless finite."""
    metric = search.spec.objective.metric
    value = metrics.get(metric)
    if value is None or not math.isfinite(value):
        raise Invalid(["body", "metrics", metric],
                      f"the objective metric {metric!r} must be present and finite")
    return value


def finished_with(trial: TrialRecord, lease_token: str, metrics: Metrics) -> bool:
    """Whether the trial already ended by the completion its worker repeats (same lease
    token and metrics): the repeat is answered as the first, and changes nothing."""
    return (trial.lease_token == lease_token and trial.status != TrialStatus.RUNNING
            and trial.metrics == metrics)


def finish(search: SearchRecord, trial: TrialRecord, metrics: Metrics, now: datetime) -> None:
    """The worker's final metrics end the running trial: completed, or as its stop cause says."""
    allow(trial, Event.FINISH)
    value = objective_value(search, metrics)
    trial.metrics = metrics
    trial.value = value
    trial.error = None  # a lost attempt's error is not this run's: it ended well
    status = final_status(search, trial)
    _move(search, trial, Event.FINISH, status, now)
    if status == TrialStatus.COMPLETED:
        _note_best(search, trial)
    finish_if_done(search, now)


def fail(search: SearchRecord, trial: TrialRecord, error: str, retry: bool, now: datetime,
         last_metrics: Metrics | None = None) -> None:
    """The worker failed the running trial: released for a retry if asked (`last_metrics` as
    for `release`), else failed."""
    if retry:
        release(search, trial, error, now, last_metrics)
        return
    allow(trial, Event.FAIL)
    trial.error = error
    trial.stop_cause = StopCause.WORKER_ERROR
    _move(search, trial, Event.FAIL, TrialStatus.FAILED, now)
    finish_if_done(search, now)


def _note_best(search: SearchRecord, trial: TrialRecord) -> None:
    """Make the completed trial the search's best if it beats the current best."""
    if trial.value is not None and better(search.spec.objective.goal, trial.value,
                                          search.best_value):
        search.best_trial_id = trial.id
        search.best_value = trial.value


# --- leases ------------------------------------------------------------------------------------

def lease_end(now: datetime, seconds: float) -> datetime:
    """When a lease taken or extended now runs out."""
    return now + timedelta(seconds=seconds)


def check_lease(trial: TrialRecord, lease_token: str, event: Event) -> None:
    """Raise LeaseLost unless the token is the trial's current one, and IllegalTransition
    unless its state allows the event."""
    if trial.lease_token != lease_token:
        raise LeaseLost(f"trial {trial.id}: the lease token is not the trial's current one "
                        "(the lease expired or the trial was handed to another worker)")
    allow(trial, event)


def extend(trial: TrialRecord, now: datetime, lease_seconds: float) -> datetime:
    """A heartbeat: the running trial's lease runs on; its new end. The cursor does not move."""
    allow(trial, Event.EXTEND)
    trial.lease_expires_at = lease_end(now, lease_seconds)
    return trial.lease_expires_at


def lease_expired(trial: TrialRecord, now: datetime) -> bool:
    """Whether the trial is running on a lease that ran out before now.

    The store finds such trials with the same rule in SQL (service.store.tables).
    """
    return (trial.status == TrialStatus.RUNNING and trial.lease_expires_at is not None
            and trial.lease_expires_at < now)


def requeue(search: SearchRecord, trial: TrialRecord, now: datetime,
            last_metrics: Metrics | None = None) -> TrialStatus:
    """Take back a trial whose lease ran out (see `release`); its new state."""
    expired = f"{trial.lease_expires_at:%Y-%m-%dT%H:%M:%SZ}"
    return release(search, trial, f"lease expired at {expired} (worker {trial.worker_id})", now,
                   last_metrics)


def ends_when_released(search: SearchRecord, trial: TrialRecord) -> bool:
    """Whether the running trial, taken from its worker now, ends (it was told to stop, or
    its search is cancelled) rather than runs again: the caller of `release` then passes
    the metrics of its last reported epoch, its result."""
    return ((trial.stop_cause is not None and trial.stop_cause != StopCause.PAUSE)
            or search.status == SearchStatus.CANCELLED)


def release(search: SearchRecord, trial: TrialRecord, error: str, now: datetime,
            last_metrics: Metrics | None = None) -> TrialStatus:
    """Take the running trial from its worker; its new state.

    A trial told to stop, or of a cancelled search, ends as it would have
    (`_end_as_told`, with `last_metrics`, its last reported epoch's metrics, if it
    reported one); one on its last attempt fails (attempts exhausted); any other
    goes back to pending with attempt + 1 and its progress cleared, from the start:
    when the new state is pending, the caller deletes the lost attempt's per-epoch
    rows, rung values and checkpoint (the next attempt reports them again). A
    trial told to pause whose checkpoint never arrived is such a trial.
    """
    allow(trial, Event.RELEASE)
    max_attempts = search.spec.budget.max_attempts
    if trial.stop_cause == StopCause.PAUSE:
        trial.stop_cause = None
        trial.stop_reason = None
    if ends_when_released(search, trial):
        _end_as_told(search, trial, error, last_metrics, now)
    elif trial.attempt >= max_attempts:
        trial.error = f"{error}; attempt {trial.attempt} of {max_attempts}, no attempts left"
        trial.stop_cause = StopCause.ATTEMPTS_EXHAUSTED
        _move(search, trial, Event.RELEASE, TrialStatus.FAILED, now)
    else:
        trial.attempt += 1
        trial.error = error
        trial.value = None
        trial.last_epoch = None
        trial.rung = None
        trial.checkpoint_epoch = None
        trial.worker_id = None
        trial.lease_token = None
        trial.lease_expires_at = None
        trial.started_at = None
        _move(search, trial, Event.RELEASE, TrialStatus.PENDING, now)
    finish_if_done(search, now)
    return trial.status


def _end_as_told(search: SearchRecord, trial: TrialRecord, error: str,
                 last_metrics: Metrics | None, now: datetime) -> None:
    """End a trial told to stop whose worker is gone before it sent its result.

    What it reached is its result: the metrics of its last reported epoch (as a worker
    completing it would have sent, from the same model), their objective value its
    value, and it ends as its stop cause says. A trial that would end `completed`
    without an objective value (it reported no epoch, or its objective is not
    reported per epoch) has no result: it ends `cancelled` (a user stopped it before
    it had one), with `error` saying its worker was lost; never `completed` with null
    metrics, never the search's best.
    """
    status = final_status(search, trial)
    value = None if last_metrics is None else last_metrics.get(search.spec.objective.metric)
    if value is not None and not math.isfinite(value):
        value = None
    trial.metrics = None if last_metrics is None else dict(last_metrics)
    trial.value = value
    trial.error = None
    if status == TrialStatus.COMPLETED and value is None:
        status = TrialStatus.CANCELLED
        told = trial.stop_reason or "told to stop"
        trial.error = f"{error}: {told} before it had a result"
    _move(search, trial, Event.RELEASE, status, now)
    if status == TrialStatus.COMPLETED:
        _note_best(search, trial)


# --- a search's life ---------------------------------------------------------------------------

def finish_if_done(search: SearchRecord, now: datetime) -> None:
    """Complete a running search whose budget is spent and that has nothing in flight or
    paused."""
    if (search.status == SearchStatus.RUNNING and search.n_trials >= search.max_trials
            and search.counts[TrialStatus.PENDING] == 0
            and search.counts[TrialStatus.RUNNING] == 0
            and search.counts[TrialStatus.PAUSED] == 0):
        _move_search(search, SearchEvent.FINISH, SearchStatus.COMPLETED, now)


def exhaust(search: SearchRecord, now: datetime) -> None:
    """The sampler can propose no more trials: the budget is what was created so far."""
    search.max_trials = search.n_trials
    finish_if_done(search, now)


def cancel(search: SearchRecord, live: list[TrialRecord], now: datetime) -> None:
    """Cancel the search: its pending and paused trials (of `live`, its trials not ended)
    are cancelled, its running ones told to stop. A cancelled search stays as it is."""
    if search.status == SearchStatus.CANCELLED:
        return
    if search.status == SearchStatus.COMPLETED:
        raise IllegalTransition(f"search {search.id} is already completed: nothing to cancel")
    _move_search(search, SearchEvent.CANCEL, SearchStatus.CANCELLED, now)
    for trial in live:
        if trial.status in (TrialStatus.PENDING, TrialStatus.PAUSED):
            cancel_trial(search, trial, now)
        elif request_stop(trial, StopCause.SEARCH_CANCELLED):
            touch(search, trial, now)


def reopen(search: SearchRecord, now: datetime) -> None:
    """Run the completed search again (its budget was raised); IllegalTransition otherwise."""
    _move_search(search, SearchEvent.REOPEN, SearchStatus.RUNNING, now)


def add_retests(search: SearchRecord, runs: Sequence[tuple[TrialRecord, dict[str, object]]],
                now: datetime) -> list[TrialRecord]:
    """New pending trials that train completed trials again, one per (origin, params): their
    number is added to the budget (so the sampler proposes nothing for them), a completed
    search is reopened, a cancelled one refuses (IllegalTransition). Not yet stored.

    Pending trials are handed out before the sampler proposes, and the search counts them
    in `n_retests`, which its sampler's history leaves out (service.store.rows).
    """
    for origin, _ in runs:
        if origin.status != TrialStatus.COMPLETED or origin.origin_trial_id is not None:
            kind = "a re-test" if origin.origin_trial_id is not None else origin.status
            raise IllegalTransition(f"trial {origin.id} is {kind}: only a completed trial "
                                    "that is not a re-test can be re-tested")
    if search.status != SearchStatus.RUNNING:
        reopen(search, now)
    search.max_trials += len(runs)
    search.n_retests += len(runs)
    trials = []
    for origin, params in runs:
        trial = new_trial(search, params, origin.round, now, origin_trial_id=origin.id)
        touch(search, trial, now)
        trials.append(trial)
    return trials


def cancel_trial(search: SearchRecord, trial: TrialRecord, now: datetime) -> None:
    """Cancel a pending or paused trial of a cancelled search: no worker will take it. The
    caller drops a paused trial's checkpoint."""
    allow(trial, Event.CANCEL)
    trial.stop_cause = StopCause.SEARCH_CANCELLED
    _move(search, trial, Event.CANCEL, TrialStatus.CANCELLED, now)
