"""Typed records of a search and a trial, as the lifecycle reads and changes them.

The store reads a row into a record, the lifecycle changes the record in
place, and the store writes back the fields that changed. Fields are the
tables' columns (the search's six `count_<status>` columns are `counts`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from domain.lifecycle.states import SearchStatus, StopCause, TrialStatus

if TYPE_CHECKING:
    from domain.spec import SearchSpec

Metrics = dict[str, float | None]


@dataclass(slots=True, eq=False)
class SearchRecord:
    """A search: its status, parsed spec, trial counts by status, and change cursor.

    `n_retests` counts the trials among its `n_trials` that are re-tests (re-training a
    completed trial with a new seed): its sampler proposed the other `n_trials - n_retests`.

    `spec` is shared between the records of one stored spec: never change it.
    """

    id: int
    status: SearchStatus
    spec: SearchSpec
    spec_text: str
    max_trials: int
    n_trials: int
    n_retests: int
    counts: dict[TrialStatus, int]
    last_seq: int
    rounds: list[dict[str, Any]]
    best_trial_id: int | None
    best_value: float | None
    updated_at: datetime
    finished_at: datetime | None


@dataclass(slots=True, eq=False)
class TrialRecord:
    """A trial: its params, state, lease, progress and result. `id` is None until stored.

    With rungs (ASHA, Hyperband): `bracket` is its Hyperband bracket (0 for ASHA), `rung`
    the highest rung it reached, `checkpoint_epoch` the epochs its stored checkpoint holds
    (None: none stored). A re-test names the trial it re-trains in `origin_trial_id`.
    """

    id: int | None
    search_id: int
    number: int
    params: dict[str, Any]
    round: int
    status: TrialStatus
    attempt: int
    worker_id: str | None
    lease_token: str | None
    lease_expires_at: datetime | None
    claim_key: str | None
    value: float | None
    metrics: Metrics | None
    last_epoch: int | None
    error: str | None
    stop_reason: str | None
    stop_cause: StopCause | None
    bracket: int | None
    rung: int | None
    checkpoint_epoch: int | None
    origin_trial_id: int | None
    seq: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
