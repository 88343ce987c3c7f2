"""ASHA and Hyperband in the store: rung values and checkpoints in SQL, and the decisions of
the report and the claim that read them (service.search.rungs holds the rule itself).

- A report that completes a rung's epochs records the trial's value there and
  asks the rule whether the trial goes on (`judge`).
- A claim first promotes a paused trial that the rule now keeps, highest rung
  first (`promotable`); once the budget is spent and nothing runs, the paused
  trials that none can lift any more end (`settle_spent`).
- A trial that ends keeps its checkpoint only if it is the search's best
  (`tidy_checkpoints`); one that starts again loses its rung values and
  checkpoint (`forget_progress`).

Every read here is an index range of one rung of one bracket
(`ix_rung_entries_search_id_bracket_rung_value`, or `..._outcome_...` for paused
trials): a count, a count of better values, the best paused trial. A count walks
its rung's part of the index, so its cost grows with that rung's size, not with
the search's trials or epochs; the best paused trial is one index probe.

Writes are queued on the transaction's `Rows`, their parameters named after their
table, so they go with the trial's own update.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, Table, bindparam, delete, func, insert, select, update

from domain.lifecycle.records import SearchRecord, TrialRecord
from domain.lifecycle.states import StopCause, TrialStatus
from domain.lifecycle.transitions import retire
from service.db.models import Checkpoint, RungEntry
from service.search.rungs import Outcome, RungRule
from service.store.rows import Rows
from service.store.tables import TRIALS


@dataclass(frozen=True)
class StoredCheckpoint:
    """A paused trial's stored checkpoint: the epochs it holds, its checksum and size."""

    epoch: int
    sha256: str
    bytes: int


# --- decisions ---------------------------------------------------------------------------------

def judge(rows: Rows, rule: RungRule, search: SearchRecord, trial: TrialRecord, epoch: int,
          value: float | None, now: datetime) -> StopCause | None:
    """After the trial's newly stored `epoch`: if that completes a rung, record its value
    there and return why it stops (or pauses), or None when it goes on."""
    bracket = trial.bracket or 0
    rung = rule.rung_at(bracket, epoch + 1, search.spec.trial_epochs(trial.params))
    if rung is None:
        return None
    finite = value if value is not None and math.isfinite(value) else None
    better, count = rank(rows, search, bracket, rung, finite)
    keeps = rule.keeps(better, count + 1)
    outcome = Outcome.CONTINUED if keeps else Outcome.PAUSED if rule.resume else Outcome.STOPPED
    add_entry(rows, trial, rung, epoch + 1, finite, outcome, now)
    trial.rung = rung
    if keeps:
        return None
    return StopCause.PAUSE if rule.resume else rule.cause


@dataclass(frozen=True)
class Promotion:
    """A paused trial the rule now keeps at its rung, and the checkpoint it resumes from."""

    trial: TrialRecord
    rung: int
    checkpoint: StoredCheckpoint


def promotable(rows: Rows, search: SearchRecord, rule: RungRule) -> Promotion | None:
    """A paused trial the rule keeps now that more values share its rung, highest rung first;
    None if there is none. Reads only: `promote` records the promotion."""
    if not search.counts[TrialStatus.PAUSED]:
        return None
    places = sorted(((epochs, bracket, rung) for bracket in range(rule.brackets)
                     for rung, epochs in enumerate(rule.rungs(bracket, rule.max_epochs))),
                    reverse=True)
    for _, bracket, rung in places:
        best = best_paused(rows, search, bracket, rung)
        if best is None:
            continue
        trial_id, value = best
        if not rule.keeps(*rank(rows, search, bracket, rung, value)):
            continue
        stored = checkpoint_info(rows, trial_id)
        if stored is None:
            raise RuntimeError(f"trial {trial_id} is paused without a checkpoint")
        return Promotion(rows.trial(trial_id), rung, stored)
    return None


def promote(rows: Rows, promotion: Promotion) -> None:
    """Queue the mark of the promoted trial's entry at its rung: resumed."""
    set_outcome(rows, promotion.trial, promotion.rung, Outcome.RESUMED)


def settle_spent(rows: Rows, search: SearchRecord, rule: RungRule | None, now: datetime
                 ) -> None:
    """End the paused trials once the budget is spent, nothing is pending or running (so no
    new value can lift them) and none can be promoted: pruned, their checkpoints dropped."""
    if (rule is None or not search.counts[TrialStatus.PAUSED]
            or search.n_trials < search.max_trials or search.counts[TrialStatus.PENDING]
            or search.counts[TrialStatus.RUNNING] or promotable(rows, search, rule)):
        return
    paused = [trial for trial in rows.live(search) if trial.status == TrialStatus.PAUSED]
    for trial in paused:
        retire(search, trial, now)
        tidy_checkpoints(rows, search, trial, search.best_trial_id)
        rows.update(trial)


def tidy_checkpoints(rows: Rows, search: SearchRecord, trial: TrialRecord,
                     previous_best: int | None) -> None:
    """After the trial ended: drop its checkpoint unless it is the search's best, and the
    previous best's if the trial took its place."""
    if not trial.status.terminal:
        return
    if trial.checkpoint_epoch is not None and search.best_trial_id != trial.id:
        drop_checkpoint(rows, trial.id)
        trial.checkpoint_epoch = None
    if previous_best is not None and search.best_trial_id != previous_best:
        drop_checkpoint(rows, previous_best)
        rows.queue(TRIALS, _CLEAR_CHECKPOINT_EPOCH, {"trials_cleared_id": previous_best})


# --- reads and writes --------------------------------------------------------------------------

RUNG_ENTRIES: Table = RungEntry.__table__  # type: ignore[assignment]
CHECKPOINTS: Table = Checkpoint.__table__  # type: ignore[assignment]

_AT_RUNG = (RUNG_ENTRIES.c.search_id == bindparam("search_id"),
            RUNG_ENTRIES.c.bracket == bindparam("bracket"),
            RUNG_ENTRIES.c.rung == bindparam("rung"))
_COUNT = select(func.count()).select_from(RUNG_ENTRIES).where(*_AT_RUNG)
_WITH_VALUE = _COUNT.where(RUNG_ENTRIES.c.value.is_not(None))
_BETTER = {
    "maximize": _COUNT.where(RUNG_ENTRIES.c.value > bindparam("value")),
    "minimize": _COUNT.where(RUNG_ENTRIES.c.value < bindparam("value")),
}
_INSERT_ENTRY = insert(RUNG_ENTRIES).values(
    {name: bindparam(f"rung_entries_{name}") for name in
     ("search_id", "trial_id", "bracket", "rung", "epochs", "value", "outcome", "created_at")})
_SET_OUTCOME = (update(RUNG_ENTRIES)
                .where(RUNG_ENTRIES.c.trial_id == bindparam("rung_entries_trial_id"),
                       RUNG_ENTRIES.c.rung == bindparam("rung_entries_rung"))
                .values(outcome=bindparam("rung_entries_outcome")))
_DELETE_ENTRIES = delete(RUNG_ENTRIES).where(
    RUNG_ENTRIES.c.trial_id == bindparam("rung_entries_trial_id"))
_CLEAR_CHECKPOINT_EPOCH = (update(TRIALS).where(TRIALS.c.id == bindparam("trials_cleared_id"))
                           .values(checkpoint_epoch=None))

@cache
def _best_paused(goal: str) -> Select[tuple[int, float | None]]:
    """The paused trial with the best value at one rung of one bracket (index order)."""
    value = RUNG_ENTRIES.c.value
    order = value.desc() if goal == "maximize" else value.asc()
    return (select(RUNG_ENTRIES.c.trial_id, value)
            .join(TRIALS, TRIALS.c.id == RUNG_ENTRIES.c.trial_id)
            .where(*_AT_RUNG, RUNG_ENTRIES.c.outcome == Outcome.PAUSED,
                   TRIALS.c.status == TrialStatus.PAUSED)
            .order_by(order.nulls_last()).limit(1))


def rank(rows: Rows, search: SearchRecord, bracket: int, rung: int, value: float | None
         ) -> tuple[int, int]:
    """(how many values at the rung beat `value`, how many there are): stored ones only.

    A missing (non-finite) value is beaten by every value there is.
    """
    params: dict[str, Any] = {"search_id": search.id, "bracket": bracket, "rung": rung}
    rows.flush()
    count = _scalar(rows, _COUNT, params)
    if value is None:
        return _scalar(rows, _WITH_VALUE, params), count
    better = _scalar(rows, _BETTER[search.spec.objective.goal], {**params, "value": value})
    return better, count


def best_paused(rows: Rows, search: SearchRecord, bracket: int, rung: int
                ) -> tuple[int, float | None] | None:
    """(trial id, value) of the paused trial with the best value at the rung, if any."""
    rows.flush()
    row = rows.sql.first(_best_paused(search.spec.objective.goal),
                         {"search_id": search.id, "bracket": bracket, "rung": rung})
    return None if row is None else (row[0], row[1])


def add_entry(rows: Rows, trial: TrialRecord, rung: int, epochs: int, value: float | None,
              outcome: Outcome, now: datetime) -> None:
    """Queue the trial's value at the rung and what the rule made of it."""
    bracket = trial.bracket or 0
    rows.queue(RUNG_ENTRIES, _INSERT_ENTRY, {
        "rung_entries_search_id": trial.search_id, "rung_entries_trial_id": trial.id,
        "rung_entries_bracket": bracket, "rung_entries_rung": rung,
        "rung_entries_epochs": epochs, "rung_entries_value": value,
        "rung_entries_outcome": outcome, "rung_entries_created_at": now,
    })


def set_outcome(rows: Rows, trial: TrialRecord, rung: int, outcome: Outcome) -> None:
    """Queue a new outcome for the trial at the rung (a paused trial resumed)."""
    rows.queue(RUNG_ENTRIES, _SET_OUTCOME, {"rung_entries_trial_id": trial.id,
                                            "rung_entries_rung": rung,
                                            "rung_entries_outcome": outcome})


def forget_progress(rows: Rows, trial: TrialRecord) -> None:
    """Queue the deletion of the trial's rung values and checkpoint: it starts again."""
    rows.queue(RUNG_ENTRIES, _DELETE_ENTRIES, {"rung_entries_trial_id": trial.id})
    drop_checkpoint(rows, trial.id)


# --- checkpoints -------------------------------------------------------------------------------

_DELETE_CHECKPOINT = delete(CHECKPOINTS).where(
    CHECKPOINTS.c.trial_id == bindparam("checkpoints_trial_id"))
_INSERT_CHECKPOINT = insert(CHECKPOINTS).values(
    {name: bindparam(f"checkpoints_{name}") for name in
     ("trial_id", "epoch", "sha256", "bytes", "data", "created_at")})
_CHECKPOINT = select(CHECKPOINTS.c.epoch, CHECKPOINTS.c.sha256, CHECKPOINTS.c.bytes,
                     CHECKPOINTS.c.data).where(CHECKPOINTS.c.trial_id == bindparam("trial_id"))
_CHECKPOINT_INFO = select(CHECKPOINTS.c.epoch, CHECKPOINTS.c.sha256, CHECKPOINTS.c.bytes).where(
    CHECKPOINTS.c.trial_id == bindparam("trial_id"))


def store_checkpoint(rows: Rows, trial_id: int, epoch: int, sha256: str, data: bytes,
                     now: datetime) -> None:
    """Queue the trial's checkpoint in place of any it had."""
    drop_checkpoint(rows, trial_id)
    rows.queue(CHECKPOINTS, _INSERT_CHECKPOINT, {
        "checkpoints_trial_id": trial_id, "checkpoints_epoch": epoch,
        "checkpoints_sha256": sha256, "checkpoints_bytes": len(data), "checkpoints_data": data,
        "checkpoints_created_at": now,
    })


def drop_checkpoint(rows: Rows, trial_id: int | None) -> None:
    """Queue the deletion of the trial's checkpoint, if it has one."""
    rows.queue(CHECKPOINTS, _DELETE_CHECKPOINT, {"checkpoints_trial_id": trial_id})


def checkpoint_info(rows: Rows, trial_id: int) -> StoredCheckpoint | None:
    """The trial's checkpoint without its data, if it has one."""
    rows.flush()
    row = rows.sql.first(_CHECKPOINT_INFO, {"trial_id": trial_id})
    return None if row is None else StoredCheckpoint(row[0], row[1], row[2])


def checkpoint_data(rows: Rows, trial_id: int) -> tuple[int, str, bytes] | None:
    """(epoch, sha256, bytes) of the trial's checkpoint with its data, if it has one."""
    rows.flush()
    row = rows.sql.first(_CHECKPOINT, {"trial_id": trial_id})
    return None if row is None else (row[0], row[1], bytes(row[3]))


def _scalar(rows: Rows, statement: Select[Any], params: dict[str, Any]) -> int:
    row = rows.sql.first(statement, params)
    return 0 if row is None else int(row[0])
