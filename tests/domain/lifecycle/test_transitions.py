"""The trial lifecycle's rules: the transition table, walked; leases; stop causes; searches."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from domain.errors import Invalid
from domain.lifecycle.records import SearchRecord, TrialRecord
from domain.lifecycle.states import TERMINAL, SearchStatus, StopCause, TrialStatus
from domain.lifecycle.transitions import (
    SEARCHES,
    TRIALS,
    Event,
    IllegalTransition,
    LeaseLost,
    SearchEvent,
    add_retests,
    assign,
    cancel,
    cancel_trial,
    check_lease,
    extend,
    fail,
    final_status,
    finish,
    finish_if_done,
    lease_expired,
    new_trial,
    pause,
    record_epoch,
    release,
    reopen,
    request_stop,
    requeue,
    retire,
    stop,
)
from domain.spec import parse_spec
from tests.service.helpers import make_spec

NOW = datetime(2026, 12, 3, 12, 0, 0)


def search_record(max_attempts: int = 2, max_trials: int = 4) -> SearchRecord:
    spec = parse_spec(make_spec(budget={"max_trials": max_trials, "max_parallel": 2,
                                        "max_attempts": max_attempts}))
    return SearchRecord(
        id=1, status=SearchStatus.RUNNING, spec=spec, spec_text="{}", max_trials=max_trials,
        n_trials=0, n_retests=0, counts=dict.fromkeys(TrialStatus, 0), last_seq=0, rounds=[],
        best_trial_id=None, best_value=None, updated_at=NOW, finished_at=None,
    )


def trial_in(search: SearchRecord, status: TrialStatus) -> TrialRecord:
    """A stored trial of the search in the given state (counted by the search)."""
    trial = new_trial(search, {"learning_rate": 0.01}, 0, NOW)
    trial.id = search.n_trials
    if status != TrialStatus.PENDING:
        assign(search, trial, "w/1", NOW, 60)
    if status == TrialStatus.PAUSED:
        paused(search, trial)
    if status in TERMINAL:
        search.counts[trial.status] -= 1
        search.counts[status] += 1
        trial.status = status
    return trial


def paused(search: SearchRecord, trial: TrialRecord) -> None:
    """Tell the running trial to pause and store its checkpoint after its reported epochs."""
    request_stop(trial, StopCause.PAUSE)
    pause(search, trial, 0 if trial.last_epoch is None else trial.last_epoch + 1, NOW)


CALLS: dict[Event, Callable[[SearchRecord, TrialRecord], Any]] = {
    Event.ASSIGN: lambda search, trial: assign(search, trial, "w/2", NOW, 60),
    Event.EXTEND: lambda search, trial: extend(trial, NOW, 60),
    Event.REPORT: lambda search, trial: record_epoch(trial, 0, 0.5, "maximize"),
    Event.STOP: lambda search, trial: request_stop(trial, StopCause.USER),
    Event.RELEASE: lambda search, trial: release(search, trial, "worker gone", NOW),
    Event.FINISH: lambda search, trial: finish(search, trial, {"dev_accuracy": 0.5}, NOW),
    Event.FAIL: lambda search, trial: fail(search, trial, "boom", False, NOW),
    Event.CANCEL: lambda search, trial: cancel_trial(search, trial, NOW),
    Event.PAUSE: paused,
    Event.RETIRE: lambda search, trial: retire(search, trial, NOW),
}


@pytest.mark.parametrize("status", list(TrialStatus))
@pytest.mark.parametrize("event", list(Event))
def test_every_event_from_every_state_follows_the_table(event: Event, status: TrialStatus):
    search = search_record()
    trial = trial_in(search, status)
    counts = dict(search.counts)
    allowed = TRIALS.get((event, status))
    if allowed is None:
        with pytest.raises(IllegalTransition, match=f"trial {trial.id} is {status}, not "):
            CALLS[event](search, trial)
        assert trial.status == status and search.counts == counts
        return
    CALLS[event](search, trial)
    assert trial.status in allowed
    assert sum(search.counts.values()) == sum(counts.values())
    assert search.counts[trial.status] == counts.get(trial.status, 0) + (
        trial.status != status)


def test_every_event_has_a_call_and_the_terminal_states_have_no_way_out():
    assert set(CALLS) == set(Event)
    assert not any(status in TERMINAL for _, status in TRIALS)
    assert {to for targets in TRIALS.values() for to in targets} == set(TrialStatus)
    assert {status for _, status in SEARCHES} == {SearchStatus.RUNNING,
                                                  SearchStatus.COMPLETED}
    assert SEARCHES[SearchEvent.REOPEN, SearchStatus.COMPLETED] == {SearchStatus.RUNNING}


def test_a_change_moves_the_cursor_and_a_lease_extension_does_not():
    search = search_record()
    trial = trial_in(search, TrialStatus.RUNNING)
    seq = search.last_seq
    extend(trial, NOW + timedelta(seconds=5), 60)
    assert search.last_seq == seq and trial.lease_expires_at == NOW + timedelta(seconds=65)
    stop(search, trial, NOW)
    assert search.last_seq == seq + 1 and trial.seq == search.last_seq
    stop(search, trial, NOW)  # told before: nothing changes
    assert search.last_seq == seq + 1


@pytest.mark.parametrize("cause, ends", [
    (None, TrialStatus.COMPLETED),
    (StopCause.USER, TrialStatus.COMPLETED),
    (StopCause.MEDIAN_RULE, TrialStatus.PRUNED),
    (StopCause.SEARCH_CANCELLED, TrialStatus.CANCELLED),
])
def test_a_finished_trial_ends_as_its_stop_cause_says(cause: StopCause | None,
                                                      ends: TrialStatus):
    search = search_record()
    trial = trial_in(search, TrialStatus.RUNNING)
    if cause is not None:
        assert request_stop(trial, cause) is True
        assert trial.stop_reason == cause.reason
    finish(search, trial, {"dev_accuracy": 0.75}, NOW)
    assert trial.status == ends and trial.finished_at == NOW and trial.lease_expires_at is None
    assert (search.best_trial_id == trial.id) is (ends == TrialStatus.COMPLETED)


def test_the_stop_reason_text_does_not_decide_the_final_state():
    search = search_record()
    trial = trial_in(search, TrialStatus.RUNNING)
    trial.stop_reason = "stopped by user"  # display text without a cause: no stop
    assert final_status(search, trial) == TrialStatus.COMPLETED
    trial.stop_reason, trial.stop_cause = None, StopCause.MEDIAN_RULE
    assert final_status(search, trial) == TrialStatus.PRUNED


def test_every_stop_cause_names_its_final_state_and_early_stopping_rule():
    for cause in StopCause:
        assert cause.final_status in TERMINAL
    assert StopCause.of_rule("median") == StopCause.MEDIAN_RULE
    with pytest.raises(ValueError, match="'none' stops no trial"):
        StopCause.of_rule("none")


def test_finishing_needs_a_finite_objective_value():
    search = search_record()
    trial = trial_in(search, TrialStatus.RUNNING)
    with pytest.raises(Invalid, match="dev_accuracy' must be present and finite"):
        finish(search, trial, {"dev_loss": 0.1}, NOW)
    assert trial.status == TrialStatus.RUNNING


def test_a_lease_needs_its_token_then_a_running_trial():
    search = search_record()
    trial = trial_in(search, TrialStatus.RUNNING)
    assert trial.lease_token is not None and len(trial.lease_token) == 32
    with pytest.raises(LeaseLost, match="not the trial's current one"):
        check_lease(trial, "0" * 32, Event.REPORT)
    check_lease(trial, trial.lease_token, Event.REPORT)
    finish(search, trial, {"dev_accuracy": 0.5}, NOW)
    with pytest.raises(IllegalTransition, match="is completed, not running: cannot report"):
        check_lease(trial, trial.lease_token, Event.REPORT)


def test_a_lease_expires_strictly_after_its_end():
    search = search_record()
    trial = trial_in(search, TrialStatus.RUNNING)
    end = trial.lease_expires_at
    assert end is not None
    assert not lease_expired(trial, end)
    assert lease_expired(trial, end + timedelta(microseconds=1))
    finish(search, trial, {"dev_accuracy": 0.5}, NOW)
    assert not lease_expired(trial, end + timedelta(days=1))


def test_a_requeued_trial_runs_again_until_its_attempts_are_spent():
    search = search_record(max_attempts=2)
    trial = trial_in(search, TrialStatus.RUNNING)
    record_epoch(trial, 0, 0.4, "maximize")
    assert requeue(search, trial, NOW) == TrialStatus.PENDING
    assert trial.attempt == 2 and trial.value is None and trial.last_epoch is None
    assert trial.lease_token is None and trial.worker_id is None
    assert trial.error == "lease expired at 2026-12-03T12:01:00Z (worker w/1)"
    assign(search, trial, "w/2", NOW, 60)
    assert requeue(search, trial, NOW) == TrialStatus.FAILED
    assert trial.stop_cause == StopCause.ATTEMPTS_EXHAUSTED
    assert trial.error.endswith("attempt 2 of 2, no attempts left")


def test_a_released_trial_that_was_told_to_stop_ends_as_told():
    """Its last reported epoch's metrics are its result (the store passes them)."""
    search = search_record()
    trial = trial_in(search, TrialStatus.RUNNING)
    record_epoch(trial, 0, 0.7, "maximize")
    record_epoch(trial, 1, 0.6, "maximize")
    stop(search, trial, NOW)
    last = {"dev_accuracy": 0.6, "dev_loss": 0.4}
    assert release(search, trial, "worker gone", NOW, last) == TrialStatus.COMPLETED
    assert trial.metrics == last and trial.value == 0.6 and trial.error is None
    assert search.best_trial_id == trial.id and search.best_value == 0.6


@pytest.mark.parametrize("last", [None, {"dev_loss": 0.4}, {"dev_accuracy": None}])
def test_a_trial_stopped_by_its_user_and_lost_without_a_result_is_cancelled(last):
    """No epoch reported, or none with the objective: never completed with null metrics,
    never the best."""
    search = search_record()
    trial = trial_in(search, TrialStatus.RUNNING)
    if last is not None:
        record_epoch(trial, 0, None, "maximize")
    stop(search, trial, NOW)
    assert requeue(search, trial, NOW, last) == TrialStatus.CANCELLED
    assert trial.stop_cause == StopCause.USER and trial.value is None
    assert trial.metrics == last
    assert trial.error == ("lease expired at 2026-12-03T12:01:00Z (worker w/1): stopped by "
                           "user before it had a result")
    assert search.best_trial_id is None and search.counts[TrialStatus.CANCELLED] == 1


def test_a_trial_pruned_and_then_lost_keeps_its_last_epoch_as_its_result():
    search = search_record()
    trial = trial_in(search, TrialStatus.RUNNING)
    record_epoch(trial, 0, 0.3, "maximize")
    request_stop(trial, StopCause.MEDIAN_RULE)
    assert requeue(search, trial, NOW, {"dev_accuracy": 0.3}) == TrialStatus.PRUNED
    assert trial.metrics == {"dev_accuracy": 0.3} and trial.value == 0.3
    assert search.best_trial_id is None


def test_a_trial_completed_after_a_lost_attempt_shows_no_error():
    search = search_record(max_attempts=3)
    trial = trial_in(search, TrialStatus.RUNNING)
    requeue(search, trial, NOW)
    assert trial.error is not None and trial.status == TrialStatus.PENDING
    assign(search, trial, "w/2", NOW, 60)
    finish(search, trial, {"dev_accuracy": 0.5}, NOW)
    assert trial.status == TrialStatus.COMPLETED and trial.error is None


def test_a_failure_without_retry_is_the_worker_s_error():
    search = search_record()
    trial = trial_in(search, TrialStatus.RUNNING)
    fail(search, trial, "diverged at epoch 3", False, NOW)
    assert trial.status == TrialStatus.FAILED and trial.stop_cause == StopCause.WORKER_ERROR
    other = trial_in(search, TrialStatus.RUNNING)
    fail(search, other, "shutting down", True, NOW)
    assert other.status == TrialStatus.PENDING and other.attempt == 2


def test_a_search_completes_when_its_budget_is_spent_and_nothing_is_in_flight():
    search = search_record(max_trials=1)
    trial = trial_in(search, TrialStatus.RUNNING)
    finish_if_done(search, NOW)
    assert search.status == SearchStatus.RUNNING
    finish(search, trial, {"dev_accuracy": 0.5}, NOW)
    assert search.status == SearchStatus.COMPLETED and search.finished_at == NOW


def test_cancel_cancels_pending_trials_and_tells_running_ones_to_stop():
    search = search_record()
    pending, running = trial_in(search, TrialStatus.PENDING), trial_in(search, TrialStatus.RUNNING)
    cancel(search, [pending, running], NOW)
    assert search.status == SearchStatus.CANCELLED
    assert pending.status == TrialStatus.CANCELLED
    assert pending.stop_cause == StopCause.SEARCH_CANCELLED
    assert running.status == TrialStatus.RUNNING and running.stop_reason == "search cancelled"
    cancel(search, [], NOW)  # again: nothing changes
    assert search.status == SearchStatus.CANCELLED
    finish(search, running, {"dev_accuracy": 0.9}, NOW)
    assert running.status == TrialStatus.CANCELLED and search.best_trial_id is None


def test_a_completed_search_cannot_be_cancelled():
    search = search_record(max_trials=1)
    finish(search, trial_in(search, TrialStatus.RUNNING), {"dev_accuracy": 0.5}, NOW)
    with pytest.raises(IllegalTransition, match="already completed: nothing to cancel"):
        cancel(search, [], NOW)


# --- pausing at a rung (promotion-based ASHA) ---------------------------------------------------

def test_a_trial_pauses_only_when_told_and_with_every_reported_epoch():
    search = search_record()
    trial = trial_in(search, TrialStatus.RUNNING)
    record_epoch(trial, 0, 0.4, "maximize")
    record_epoch(trial, 1, 0.5, "maximize")
    with pytest.raises(IllegalTransition, match="was not told to pause"):
        pause(search, trial, 2, NOW)
    request_stop(trial, StopCause.PAUSE)
    with pytest.raises(Invalid, match="holds 1 epochs but trial 1 reported 2"):
        pause(search, trial, 1, NOW)
    pause(search, trial, 2, NOW)
    assert trial.status == TrialStatus.PAUSED and trial.checkpoint_epoch == 2
    assert trial.lease_token is None and trial.stop_cause is None and trial.value == 0.5
    assign(search, trial, "w/2", NOW, 60)  # promoted
    assert trial.status == TrialStatus.RUNNING and trial.stop_reason is None
    assert trial.checkpoint_epoch == 2 and trial.last_epoch == 1


def test_a_trial_told_to_pause_whose_checkpoint_never_came_starts_again():
    search = search_record(max_attempts=3)
    trial = trial_in(search, TrialStatus.RUNNING)
    record_epoch(trial, 0, 0.4, "maximize")
    trial.rung = 0
    request_stop(trial, StopCause.PAUSE)
    assert release(search, trial, "lease expired", NOW) == TrialStatus.PENDING
    assert trial.stop_cause is None and trial.stop_reason is None and trial.attempt == 2
    assert trial.last_epoch is None and trial.value is None and trial.rung is None


def test_paused_trials_keep_the_search_open_until_retired_or_cancelled():
    search = search_record(max_trials=1)
    trial = trial_in(search, TrialStatus.PAUSED)
    finish_if_done(search, NOW)
    assert search.status == SearchStatus.RUNNING
    retire(search, trial, NOW)
    assert trial.status == TrialStatus.PRUNED and trial.stop_cause == StopCause.BUDGET_SPENT
    assert search.status == SearchStatus.COMPLETED and search.best_trial_id is None
    other = search_record(max_trials=1)
    waiting = trial_in(other, TrialStatus.PAUSED)
    cancel(other, [waiting], NOW)
    assert waiting.status == TrialStatus.CANCELLED and other.status == SearchStatus.CANCELLED


# --- re-tests: a completed search reopened ------------------------------------------------------

def search_in(status: SearchStatus) -> SearchRecord:
    """A search of one completed trial, in the given state."""
    search = search_record(max_trials=1)
    finish(search, trial_in(search, TrialStatus.RUNNING), {"dev_accuracy": 0.5}, NOW)
    search.status = status
    return search


@pytest.mark.parametrize("status", list(SearchStatus))
def test_reopen_from_every_search_state_follows_the_table(status: SearchStatus):
    search = search_in(status)
    later = NOW + timedelta(minutes=1)
    allowed = SEARCHES.get((SearchEvent.REOPEN, status))
    if allowed is None:
        with pytest.raises(IllegalTransition, match=f"search 1 is {status}: cannot reopen"):
            reopen(search, later)
        assert search.status == status and search.updated_at != later
        return
    reopen(search, later)
    assert search.status in allowed and search.status == SearchStatus.RUNNING
    assert search.finished_at is None and search.updated_at == later


def test_re_tests_reopen_a_completed_search_raise_its_budget_and_end_it_again():
    search = search_record(max_trials=1)
    origin = trial_in(search, TrialStatus.RUNNING)
    origin.round = 2
    finish(search, origin, {"dev_accuracy": 0.5}, NOW)
    assert search.status == SearchStatus.COMPLETED
    seq = search.last_seq
    trials = add_retests(search, [(origin, {"learning_rate": 0.01, "seed": s}) for s in (5, 6)],
                         NOW)
    assert search.status == SearchStatus.RUNNING and search.finished_at is None
    assert (search.max_trials, search.n_trials, search.n_retests) == (3, 3, 2)
    assert search.counts[TrialStatus.PENDING] == 2
    assert [t.number for t in trials] == [1, 2] and [t.seq for t in trials] == [seq + 1, seq + 2]
    assert all(t.origin_trial_id == origin.id and t.round == 2 and t.id is None
               and t.status == TrialStatus.PENDING for t in trials)
    assert [t.params["seed"] for t in trials] == [5, 6]
    for trial in trials:
        assign(search, trial, "w/1", NOW, 60)
        finish(search, trial, {"dev_accuracy": 0.4}, NOW)
    assert search.status == SearchStatus.COMPLETED


def test_a_cancelled_search_refuses_re_tests_and_only_completed_originals_are_re_tested():
    search = search_in(SearchStatus.CANCELLED)
    done = trial_in(search, TrialStatus.COMPLETED)
    before = (search.max_trials, search.n_trials, dict(search.counts))
    with pytest.raises(IllegalTransition, match="search 1 is cancelled: cannot reopen"):
        add_retests(search, [(done, {"seed": 1})], NOW)
    assert (search.max_trials, search.n_trials, search.counts) == before
    running = search_record()
    for status in (TrialStatus.RUNNING, TrialStatus.PRUNED):
        with pytest.raises(IllegalTransition, match=f"is {status}: only a completed trial"):
            add_retests(running, [(trial_in(running, status), {"seed": 1})], NOW)
    retest = trial_in(running, TrialStatus.COMPLETED)
    retest.origin_trial_id = 1
    with pytest.raises(IllegalTransition, match="is a re-test: only a completed trial"):
        add_retests(running, [(retest, {"seed": 1})], NOW)


def test_a_trial_told_to_pause_that_completes_instead_is_pruned_unless_it_ran_out():
    search = search_record()
    epochs = search.spec.trial_epochs({})
    for trained, ends in ((1, TrialStatus.PRUNED), (epochs, TrialStatus.COMPLETED)):
        trial = trial_in(search, TrialStatus.RUNNING)
        for epoch in range(trained):
            record_epoch(trial, epoch, 0.5, "maximize")
        request_stop(trial, StopCause.PAUSE)
        finish(search, trial, {"dev_accuracy": 0.5}, NOW)
        assert trial.status == ends
