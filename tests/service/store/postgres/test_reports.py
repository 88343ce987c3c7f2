"""The PostgreSQL fast path's memory of the trials it handed out, used from several threads
at once, as the worker routes are while the database is slow (service/api/db_calls.py)."""

from __future__ import annotations

import dataclasses
import sys
import threading
from datetime import datetime

from domain.lifecycle.records import SearchRecord
from domain.lifecycle.states import SearchStatus, TrialStatus
from domain.lifecycle.transitions import new_trial
from domain.spec import parse_spec
from service.store.postgres.reports import KnownTrial, KnownTrials
from tests.service.helpers import make_spec

NOW = datetime(2026, 12, 4, 12, 0, 0)


def _known_trials(count: int) -> list[KnownTrial]:
    spec = parse_spec(make_spec())
    search = SearchRecord(
        id=1, status=SearchStatus.RUNNING, spec=spec, spec_text="{}", max_trials=count,
        n_trials=0, n_retests=0, counts=dict.fromkeys(TrialStatus, 0), last_seq=0, rounds=[],
        best_trial_id=None, best_value=None, updated_at=NOW, finished_at=None)
    trials = [new_trial(search, {"learning_rate": 0.01}, 0, NOW) for _ in range(count)]
    return [KnownTrial(dataclasses.replace(trial, id=number + 1), "dev_accuracy", "maximize")
            for number, trial in enumerate(trials)]


def test_threads_remembering_and_forgetting_at_once_never_fail_and_keep_the_size():
    known = KnownTrials(size=4)
    trials = _known_trials(32)
    failures: list[BaseException] = []
    start = threading.Barrier(8)

    def churn(offset: int) -> None:
        start.wait()
        try:
            for step in range(4_000):
                known.remember(trials[(offset + step) % len(trials)])
                if step % 3 == 0:
                    known.forget(trials[(offset + step + 1) % len(trials)].trial.id or 0)
        except BaseException as error:  # noqa: B036 - reported by the assertion below
            failures.append(error)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can
    try:
        threads = [threading.Thread(target=churn, args=(offset,)) for offset in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert failures == []
    assert sum(known.get(item.trial.id or 0) is not None for item in trials) <= 4
