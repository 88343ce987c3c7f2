"""Pydantic schemas of the API's request bodies and (for OpenAPI) its answers.

Separate from the SQL models. Answers are built as plain dicts by
service.api.views (cheap for thousands of trials); the response models here
document their shape in /openapi.json.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from domain.errors import Invalid
from domain.lifecycle.states import SearchStatus, StopCause, TrialStatus

MAX_ID = 2**31 - 1
MAX_CURSOR = 2**63 - 1


def _no_nul(text: str) -> str:
    if "\x00" in text:
        raise ValueError("must not contain the NUL character")
    return text


Text = Annotated[str, AfterValidator(_no_nul)]
# Metric values are finite numbers, or null for one that could not be measured
# (a non-finite loss); the objective metric of a completed trial must be a number.
FiniteMetrics = dict[Annotated[Text, Field(min_length=1, max_length=100)],
                     Annotated[float, Field(allow_inf_nan=False)] | None]


class Body(BaseModel):
    """A request body: unknown fields are an error, so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid")


class ClaimRequest(Body):
    worker_id: Text = Field(min_length=1, max_length=200)
    search_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class HeartbeatRequest(Body):
    lease_token: Text = Field(min_length=1, max_length=64)


Epoch = Annotated[int, Field(ge=0, le=1_000_000)]
MAX_REPORTS = 1000


class EpochReport(Body):
    """One epoch's metrics, an entry of a batched report."""

    epoch: Epoch
    metrics: FiniteMetrics = Field(max_length=100)


class ReportRequest(Body):
    """One epoch (`epoch`, `metrics`), or several in order (`reports`): exactly one form."""

    lease_token: Text = Field(min_length=1, max_length=64)
    epoch: Epoch | None = None
    metrics: FiniteMetrics | None = Field(default=None, max_length=100)
    reports: list[EpochReport] | None = Field(default=None, min_length=1,
                                              max_length=MAX_REPORTS)

    def epochs(self) -> list[tuple[int, dict[str, float | None]]]:
        """The (epoch, metrics) pairs in order; Invalid names the field breaking a rule."""
        if self.reports is None:
            for name in ("epoch", "metrics"):
                if getattr(self, name) is None:
                    raise Invalid(["body", name], "field required (or give `reports`)",
                                  "missing")
            return [(self.epoch, self.metrics)]
        for name in ("epoch", "metrics"):
            if getattr(self, name) is not None:
                raise Invalid(["body", name], "give either `epoch` and `metrics`, or "
                              "`reports`, not both")
        for index in range(1, len(self.reports)):
            if self.reports[index].epoch <= self.reports[index - 1].epoch:
                raise Invalid(["body", "reports", index, "epoch"],
                              "epochs must be strictly increasing")
        return [(entry.epoch, entry.metrics) for entry in self.reports]


class CompleteRequest(Body):
    lease_token: Text = Field(min_length=1, max_length=64)
    metrics: FiniteMetrics = Field(min_length=1, max_length=100)


class FailRequest(Body):
    lease_token: Text = Field(min_length=1, max_length=64)
    error: Text = Field(min_length=1, max_length=20_000)
    retry: bool = False


class ActionAnswer(BaseModel):
    action: Literal["continue", "stop"]
    reason: str | None
    lease_expires_at: str | None = None


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


class SearchList(BaseModel):
    items: list[SearchOut]
    total: int


class Assignment(BaseModel):
    trial_id: int
    search_id: int
    number: int
    attempt: int
    params: dict[str, Any]
    dataset: dict[str, Any]
    split: dict[str, Any]
    objective: dict[str, Any]
    lease_token: str
    lease_expires_at: str
    heartbeat_interval: float


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
