"""Pydantic schemas of the API's answers, and of the user's request bodies other than the
spec (the worker protocol's messages are domain.protocol's).

Separate from the SQL models. Answers are built as plain dicts by
service.api.views (cheap for thousands of trials); the models here say their
shape, in /openapi.json and to the views and the SQL rendering of trials,
which derive from `TrialOut`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StrictInt

from domain.lifecycle.states import SearchStatus, StopCause, TrialStatus
from domain.protocol import RequestBody
from domain.roles import Role
from service.search.rungs import Outcome

MAX_CURSOR = 2**63 - 1


class TrialOut(BaseModel):
    """A trial: the one definition of its JSON shape. Every answer holding a trial renders
    these fields in this order, from a record (service.api.views.trial_json) or in SQL
    (service.store.trial_json); times are UTC, ISO 8601 with milliseconds and a Z."""

    id: int
    search_id: int
    number: int
    params: dict[str, Any]
    status: TrialStatus
    attempt: int
    worker_id: str | None
    lease_expires_at: datetime | None
    value: float | None
    metrics: dict[str, float | None] | None
    last_epoch: int | None
    error: str | None
    stop_reason: str | None
    stop_cause: StopCause | None
    bracket: int | None
    rung: int | None
    checkpoint_epoch: int | None
    origin_trial_id: int | None
    round: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    seq: int


TRIAL_FIELDS = tuple(TrialOut.model_fields)


class TrialWithIntermediate(TrialOut):
    intermediate: list[dict[str, Any]]


class TrialList(BaseModel):
    items: list[TrialOut]
    total: int | None = None
    cursor: int
    has_more: bool | None = None


class Round(BaseModel):
    round: int
    box: dict[str, list[float]]


class SearchOut(BaseModel):
    id: int
    name: str
    spec: dict[str, Any]
    status: SearchStatus
    created_at: str
    updated_at: str
    finished_at: str | None
    counts: dict[TrialStatus, int]
    n_trials: int
    max_trials: int
    best_trial: TrialOut | None
    cursor: int
    rounds: list[Round]
    owner: str | None = Field(description="the owner of the token that created it (null: "
                              "created by a server running without tokens)")


class SearchList(BaseModel):
    items: list[SearchOut]
    total: int


class RetestRequest(RequestBody):
    """Re-test the search's best `top` completed trials, `seeds` new seeds each."""

    top: StrictInt = Field(ge=1, le=50, description="how many of the best trials")
    seeds: StrictInt = Field(ge=1, le=50, description="new seeds (re-tests) per trial")


class RetestOut(BaseModel):
    """The search after the re-tests were added, and the new pending trials."""

    search: SearchOut
    trials: list[TrialOut]


class LeaderboardEntry(BaseModel):
    """A setting's runs: a trial its sampler proposed (`trial_id`, `number`, `params`) and its
    completed re-tests; `std` is the sample standard deviation, null for one run."""

    trial_id: int
    number: int
    params: dict[str, Any]
    runs: int
    mean: float
    std: float | None
    values: list[float]
    trial_ids: list[int]


class Leaderboard(BaseModel):
    """The best settings by the mean of their runs, and how many settings there are."""

    items: list[LeaderboardEntry]
    total: int


class DatasetOut(BaseModel):
    id: int
    name: str
    format: Literal["npz", "csv"]
    label_column: str | None
    sha256: str
    n_samples: int
    n_features: int
    n_classes: int
    bytes: int
    created_at: str
    owner: str | None


class DatasetList(BaseModel):
    items: list[DatasetOut]
    total: int


class RungOut(BaseModel):
    """A rung of a bracket: its index k, its epochs, and how many values it holds."""

    rung: int
    epochs: int
    values: int


class BracketOut(BaseModel):
    """A bracket s (0 alone for ASHA) and its rungs, at `min_epochs · eta^(s+k)` epochs."""

    bracket: int
    rungs: list[RungOut]


class RungEntryOut(BaseModel):
    """A trial's value at a rung it reached, and what the rule made of it."""

    trial_id: int
    number: int
    bracket: int
    rung: int
    epochs: int
    value: float | None
    outcome: Outcome


class RungsOut(BaseModel):
    """A search's rungs (ASHA, Hyperband) and every value recorded at them, by bracket, rung
    and trial number; a null kind and empty lists for a search without rungs."""

    kind: Literal["asha", "hyperband"] | None
    eta: int | None
    brackets: list[BracketOut]
    entries: list[RungEntryOut]


class ParameterImportanceOut(BaseModel):
    name: str
    importance: float = Field(ge=0, le=1, description="the share of the objective's variance "
                              "the parameter explains on its own (its main effect)")


class ImportanceOut(BaseModel):
    """Parameter importance (fANOVA on a random forest of the completed trials), largest
    first; the shares leave out interactions, so they sum to at most 1."""

    finished_trials: int = Field(description="the completed trials the model was fitted on "
                                 "(re-tests left out); below the minimum, those so far")
    parameters: list[ParameterImportanceOut]
    reason: str | None = Field(description="why there is no importance yet, or null")


TokenName = Annotated[str, Field(min_length=1, max_length=100,
                                 pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]*$")]
"""A token's name or owner: letters, digits and . _ @ - (starting with a letter or digit)."""


class TokenCreate(RequestBody):
    """A new token: its name, role, and the owner it acts for (default: its name)."""

    name: TokenName
    role: Role
    owner: TokenName | None = None


class TokenOut(BaseModel):
    """A token as listings show it: never the token, only its first characters."""

    id: int
    name: str
    role: Role
    owner: str
    prefix: str
    created_at: str
    last_used_at: str | None
    revoked_at: str | None


class TokenCreated(TokenOut):
    """A new token, with the token itself: shown this once, never stored."""

    token: str


class TokenList(BaseModel):
    items: list[TokenOut]


class WhoAmI(BaseModel):
    """The caller a request is made by, and whether the server requires tokens."""

    name: str
    role: Role
    owner: str | None
    authentication: Literal["tokens", "open"]


class Fleet(BaseModel):
    """The fleet's demand over every running search (domain.fleet): trials running, trials
    a claim could take now, and their sum, the workers that would all be busy."""

    running: int
    waiting: int
    wanted: int
