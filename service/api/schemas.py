"""Pydantic schemas of the API's request bodies and (for OpenAPI) its answers.

Separate from the SQL models. Answers are built as plain dicts by
service.api.views (cheap for thousands of trials); the response models here
document their shape in /openapi.json.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

# The worker protocol's messages are defined once, in domain.protocol, and re-exported
# here for the server's routes.
from domain.protocol import MAX_ID as MAX_ID
from domain.protocol import Action
from domain.protocol import Assignment as Assignment
from domain.protocol import ClaimRequest as ClaimRequest
from domain.protocol import CompleteRequest as CompleteRequest
from domain.protocol import FailRequest as FailRequest
from domain.protocol import HeartbeatRequest as HeartbeatRequest
from domain.protocol import ReportRequest as ReportRequest
from domain.protocol import Text as Text

TrialStatus = Literal["pending", "running", "completed", "failed", "pruned", "cancelled"]
SearchStatus = Literal["running", "completed", "cancelled"]
MAX_CURSOR = 2**63 - 1
ActionAnswer = Action  # the name service.api.worker imports


class TrialOut(BaseModel):
    id: int
    search_id: int
    number: int
    params: dict[str, Any]
    status: TrialStatus
    attempt: int
    worker_id: str | None
    lease_expires_at: str | None
    value: float | None
    metrics: dict[str, Any] | None
    last_epoch: int | None
    error: str | None
    stop_reason: str | None
    round: int
    created_at: str
    started_at: str | None
    finished_at: str | None
    seq: int


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


class SearchList(BaseModel):
    items: list[SearchOut]
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


class DatasetList(BaseModel):
    items: list[DatasetOut]
    total: int
