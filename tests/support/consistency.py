"""After a fault: is a finished search's stored state whole? Read straight from its database.

`assert_search_consistent` checks what no fault may break, whatever the fault was:

- every trial is in a final state, and is there exactly once (numbers 0 .. n_trials-1);
- no epoch row lost or doubled: a trial's rows are its epochs 0 .. last_epoch, each once.
  A trial keeps only the rows of its last attempt (a requeue deletes a lost attempt's),
  so this is the per-attempt rule; a test that knows when an attempt began can check
  the rows' times against it (tests/faults/test_partition.py does);
- a completed trial has its metrics and objective value;
- the search row's counters equal a recount of its trial rows, and its best trial and
  value are the best of its completed trials.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import create_engine, select

from domain.lifecycle.states import TERMINAL, TrialStatus
from service.store.tables import INTERMEDIATE, SEARCHES, TRIALS


def assert_search_consistent(database_url: str, search_id: int) -> None:
    """AssertionError naming every rule the search's stored rows break."""
    search, trials, epochs = _read(database_url, search_id)
    problems = [
        *_trials_once_and_final(search, trials),
        *_epochs_whole(trials, epochs),
        *_counters_match(search, trials),
        *_best_is_best(search, trials),
    ]
    assert not problems, f"search {search_id} is not consistent:\n" + "\n".join(problems)


def _read(database_url: str, search_id: int
          ) -> tuple[dict[str, Any], list[dict[str, Any]], dict[int, list[int]]]:
    """The search's row, its trials' rows (by number) and each trial's stored epochs."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            search = connection.execute(select(SEARCHES).where(SEARCHES.c.id == search_id)
                                        ).mappings().first()
            assert search is not None, f"search {search_id} is not in {database_url}"
            trials = [dict(row) for row in connection.execute(
                select(TRIALS).where(TRIALS.c.search_id == search_id)
                .order_by(TRIALS.c.number)).mappings()]
            epochs: dict[int, list[int]] = {trial["id"]: [] for trial in trials}
            rows = connection.execute(
                select(INTERMEDIATE.c.trial_id, INTERMEDIATE.c.epoch)
                .where(INTERMEDIATE.c.trial_id.in_(list(epochs)))
                .order_by(INTERMEDIATE.c.trial_id, INTERMEDIATE.c.epoch))
            for trial_id, epoch in rows:
                epochs[trial_id].append(epoch)
    finally:
        engine.dispose()
    return dict(search), trials, epochs


def _trials_once_and_final(search: dict[str, Any], trials: list[dict[str, Any]]) -> list[str]:
    problems = []
    numbers = [trial["number"] for trial in trials]
    if numbers != list(range(search["n_trials"])):
        problems.append(f"trial numbers {numbers}, expected 0 .. {search['n_trials'] - 1} "
                        "each once")
    for trial in trials:
        if TrialStatus(trial["status"]) not in TERMINAL:
            problems.append(f"trial #{trial['number']} is {trial['status']}, not final")
        if trial["status"] == TrialStatus.COMPLETED and (trial["metrics"] is None
                                                         or trial["value"] is None):
            problems.append(f"trial #{trial['number']} is completed without its metrics "
                            f"or value ({trial['metrics']!r}, {trial['value']!r})")
    return problems


def _epochs_whole(trials: list[dict[str, Any]], epochs: dict[int, list[int]]) -> list[str]:
    problems = []
    for trial in trials:
        last = trial["last_epoch"]
        expected = [] if last is None else list(range(last + 1))
        if epochs[trial["id"]] != expected:
            problems.append(f"trial #{trial['number']} (last_epoch {last}) has epoch rows "
                            f"{epochs[trial['id']]}, expected {expected}")
    return problems


def _counters_match(search: dict[str, Any], trials: list[dict[str, Any]]) -> list[str]:
    recount = Counter(trial["status"] for trial in trials)
    return [f"count_{status} is {search[f'count_{status}']} but {recount[status]} trials are "
            f"{status}" for status in TrialStatus
            if search[f"count_{status}"] != recount[status]]


def _best_is_best(search: dict[str, Any], trials: list[dict[str, Any]]) -> list[str]:
    completed = [trial for trial in trials if trial["status"] == TrialStatus.COMPLETED
                 and trial["value"] is not None]
    if not completed:
        if search["best_trial_id"] is None:
            return []
        return [f"best_trial_id is {search['best_trial_id']} but no trial completed"]
    pick = max if search["spec"]["objective"]["goal"] == "maximize" else min
    best_value = pick(trial["value"] for trial in completed)
    holders = {trial["id"] for trial in completed if trial["value"] == best_value}
    if search["best_value"] != best_value or search["best_trial_id"] not in holders:
        return [f"best is trial id {search['best_trial_id']} with {search['best_value']}, "
                f"but the best completed value is {best_value} (trial ids {sorted(holders)})"]
    return []
