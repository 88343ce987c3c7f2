"""The invariant every fault test ends on, checked in the database itself (not through the API).

`assert_search_consistent(database_url, search_id)`: the search is finished; each
of its trials exists once (numbers 0..n-1), in a final state; each trial's epoch
rows are its epochs 0..last_epoch, each once (a lost or doubled report shows as a
gap or a count off); a trial that completed on its own has every epoch of its
spec; and the counts kept on the search row equal a recount of its trial rows.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import create_engine, text

from domain.lifecycle.states import TERMINAL, SearchStatus, TrialStatus


@dataclass(frozen=True)
class SearchRecount:
    """What the trial rows say about a search, beside what its own row says."""

    status: str
    counts: dict[str, int]
    recount: dict[str, int]
    trials: list[dict[str, Any]]


def _json(value: Any) -> Any:
    """A JSON column's value as Python (SQLite returns the text, psycopg the object)."""
    return json.loads(value) if isinstance(value, str) else value


def recount_search(database_url: str, search_id: int) -> SearchRecount:
    """Read the search row, its trials and their epoch rows in one transaction."""
    engine = create_engine(database_url)
    columns = ", ".join(f"count_{status}" for status in TrialStatus)
    try:
        with engine.connect() as connection, connection.begin():
            search = connection.execute(
                text(f"SELECT status, n_trials, spec, {columns} FROM searches WHERE id = :id"),
                {"id": search_id}).mappings().one()
            trials = [dict(row) for row in connection.execute(
                text("SELECT id, number, status, attempt, last_epoch, stop_cause, params "
                     "FROM trials WHERE search_id = :id ORDER BY number"),
                {"id": search_id}).mappings()]
            epochs = connection.execute(
                text("SELECT i.trial_id, i.epoch FROM intermediate i JOIN trials t "
                     "ON t.id = i.trial_id WHERE t.search_id = :id ORDER BY i.trial_id, i.epoch"),
                {"id": search_id}).all()
    finally:
        engine.dispose()
    by_trial: dict[int, list[int]] = {}
    for trial_id, epoch in epochs:
        by_trial.setdefault(trial_id, []).append(epoch)
    fixed_epochs = (_json(search["spec"]).get("fixed") or {}).get("epochs")
    for trial in trials:
        trial["epochs"] = by_trial.get(trial["id"], [])
        trial["expected_epochs"] = _json(trial["params"]).get("epochs", fixed_epochs)
    counts = {str(status): search[f"count_{status}"] for status in TrialStatus}
    counts["n_trials"] = search["n_trials"]
    tally = Counter(trial["status"] for trial in trials)
    recount = {str(status): tally.get(status, 0) for status in TrialStatus}
    recount["n_trials"] = len(trials)
    return SearchRecount(search["status"], counts, recount, trials)


def consistency_errors(found: SearchRecount) -> list[str]:
    """Every broken rule, one sentence each (empty when the search is consistent)."""
    errors: list[str] = []
    if found.status != SearchStatus.COMPLETED:
        errors.append(f"the search is {found.status}, not completed")
    if found.counts != found.recount:
        errors.append(f"counts on the search row {found.counts} != recount {found.recount}")
    numbers = [trial["number"] for trial in found.trials]
    if numbers != list(range(len(numbers))):
        errors.append(f"trial numbers are {numbers}, not 0..{len(numbers) - 1} once each")
    for trial in found.trials:
        errors.extend(_trial_errors(trial))
    return errors


def _trial_errors(trial: dict[str, Any]) -> Sequence[str]:
    """The broken rules of one trial: its state and its epoch rows."""
    name = f"trial #{trial['number']} (id {trial['id']}, attempt {trial['attempt']})"
    if trial["status"] not in TERMINAL:
        return [f"{name} is {trial['status']}, not in a final state"]
    epochs, last = trial["epochs"], trial["last_epoch"]
    reached = [] if last is None else list(range(last + 1))
    if epochs != reached:
        return [f"{name}: epoch rows {epochs} are not 0..last_epoch ({last}) once each"]
    full = trial["expected_epochs"]
    if (trial["status"] == TrialStatus.COMPLETED and trial["stop_cause"] is None
            and full is not None and len(epochs) != full):
        return [f"{name} completed with {len(epochs)} epoch rows, not its {full} epochs"]
    return []


def assert_search_consistent(database_url: str, search_id: int) -> SearchRecount:
    """Fail, naming every broken rule, unless the search finished consistently; return what
    was read, for the test's own further checks."""
    found = recount_search(database_url, search_id)
    errors = consistency_errors(found)
    assert not errors, f"search {search_id} is not consistent:\n- " + "\n- ".join(errors)
    return found
