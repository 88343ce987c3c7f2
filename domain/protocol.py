"""The worker protocol's messages: what a worker sends the server, and what it is answered.

One definition for both sides: the server validates request bodies with these
models (unknown fields are an error, so typos do not pass silently) and
documents its answers with them; the worker builds its requests from them and
parses the answers into them (unknown answer fields are ignored, so a newer
server can add some). docs/api.md describes every route that uses them.

Requests: `ClaimRequest`, `HeartbeatRequest`, `ReportRequest` (one epoch, or
several as `EpochMetrics` entries), `CompleteRequest`, `FailRequest`.
Answers: `Assignment` (a claimed trial, with its `DatasetRef`) and `Action`
(continue or stop, after a heartbeat or a report).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

MAX_ID = 2**31 - 1
MAX_REPORTS = 1000  # epochs in one report request

# Seconds the server keeps an idle connection open (uvicorn's default is 5), and the
# worker a few less, so that the worker drops an idle connection before the server does:
# a worker reports once an epoch, and with epochs over 5 s it reconnected for every report,
# and a request sent as the server closed the connection failed (ConnectionResetError).
# 65 s also outlasts the common 60 s idle timeout of load balancers in front of servers.
SERVER_KEEP_ALIVE_SECONDS = 65
WORKER_KEEP_ALIVE_SECONDS = SERVER_KEEP_ALIVE_SECONDS - 5


def _no_nul(text: str) -> str:
    if "\x00" in text:
        raise ValueError("must not contain the NUL character")
    return text


NO_NUL = r"^[^\x00]*$"  # the rule of _no_nul, for the JSON Schema
Text = Annotated[str, AfterValidator(_no_nul), Field(json_schema_extra={"pattern": NO_NUL})]
MetricName = Annotated[Text, Field(min_length=1, max_length=100)]


ACCURACY, LOSS = "accuracy", "loss"
"""A metric whose name holds `accuracy` (any case) is a fraction in [0, 1]; one whose name
holds `loss` is >= 0 (a cross-entropy; a name holding both takes both rules)."""


def _any_case(word: str) -> str:
    """A JSON Schema pattern (ECMA 262, no flags) finding the word in any case."""
    return "".join(f"[{letter.upper()}{letter}]" for letter in word)


_NUMBER_OR_NULL: list[dict[str, Any]] = [{"type": "number"}, {"type": "null"}]


def _metrics(min_items: int, max_items: int) -> WithJsonSchema:
    """The JSON Schema of metrics: names as MetricName says, values numbers or null, an
    accuracy within [0, 1] and a loss >= 0 (their names found by pattern)."""
    return WithJsonSchema({
        "type": "object", "minProperties": min_items, "maxProperties": max_items,
        "propertyNames": {"type": "string", "minLength": 1, "maxLength": 100,
                          "pattern": NO_NUL},
        "patternProperties": {
            _any_case(ACCURACY): {"anyOf": [{"type": "number", "minimum": 0, "maximum": 1},
                                            {"type": "null"}]},
            _any_case(LOSS): {"anyOf": [{"type": "number", "minimum": 0}, {"type": "null"}]},
        },
        "additionalProperties": {"anyOf": _NUMBER_OR_NULL},
    })


def _json_number(value: Any) -> Any:
    """A metric value is a JSON number (or null): pydantic would read true as 1 and "0.25"
    as 0.25."""
    if isinstance(value, bool | str):
        raise PydanticCustomError(
            "metric_type", "a metric value must be a JSON number or null, not {kind}",
            {"kind": "a boolean" if isinstance(value, bool) else "a string"})
    return value


def metric_rule(name: str, value: float | None) -> str | None:
    """The range rule the metric's value breaks, or None (see ACCURACY and LOSS)."""
    if value is None:
        return None
    lowered = name.lower()
    if ACCURACY in lowered and not 0 <= value <= 1:
        return f"an accuracy must be between 0 and 1, got {value!r}"
    if LOSS in lowered and value < 0:
        return f"a loss must be >= 0, got {value!r}"
    return None


def _in_range(metrics: dict[str, float | None]) -> dict[str, float | None]:
    """Every accuracy within [0, 1], every loss >= 0; each broken rule at its metric's name."""
    errors = [InitErrorDetails(type=PydanticCustomError("metric_range", rule), loc=(name,),
                               input=value)
              for name, value in metrics.items()
              if (rule := metric_rule(name, value)) is not None]
    if errors:
        raise ValidationError.from_exception_data("metrics", errors)
    return metrics


# Metric values are finite JSON numbers, or null for one that could not be measured (a
# non-finite loss); the objective metric of a completed trial must be a number.
MetricValue = Annotated[float, Field(allow_inf_nan=False, strict=True),
                        BeforeValidator(_json_number)]
FiniteMetrics = Annotated[dict[MetricName, MetricValue | None], AfterValidator(_in_range)]
EpochsMetrics = Annotated[FiniteMetrics, Field(max_length=100), _metrics(0, 100)]
FinalMetrics = Annotated[FiniteMetrics, Field(min_length=1, max_length=100), _metrics(1, 100)]
Epoch = Annotated[int, Field(ge=0, le=1_000_000)]
LeaseToken = Annotated[Text, Field(min_length=1, max_length=64)]


class RequestBody(BaseModel):
    """A request body: unknown fields are an error, so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid")


class ClaimRequest(RequestBody):
    worker_id: Text = Field(min_length=1, max_length=200)
    search_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    claim_key: str | None = Field(
        default=None, min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
        description="The worker's own name for this claim, new for each claim and the "
        "same in its retries: a retry whose first answer was lost (a timeout, a dropped "
        "connection) is answered the trial that answer held, under the same lease, "
        "instead of taking another and leaving the first held until its lease runs out.")


class HeartbeatRequest(RequestBody):
    lease_token: LeaseToken


class EpochMetrics(RequestBody):
    """One epoch's metrics, an entry of a batched report."""

    epoch: Epoch
    metrics: EpochsMetrics


def _without_null(schema: dict[str, Any]) -> None:
    """Document an optional field as its type alone: null is accepted for a field left out,
    but a client has no reason to send it."""
    (kept,) = [option for option in schema.pop("anyOf") if option != {"type": "null"}]
    schema.pop("default", None)
    schema.update(kept)


class ReportRequest(RequestBody):
    """One epoch (`epoch`, `metrics`), or several in order (`reports`): exactly one form.

    The JSON Schema states the two forms; that a batch's epochs strictly increase
    is the server's check.
    """

    model_config = ConfigDict(json_schema_extra={"oneOf": [
        {"required": ["epoch", "metrics"], "not": {"required": ["reports"]}},
        {"required": ["reports"], "not": {"anyOf": [{"required": ["epoch"]},
                                                    {"required": ["metrics"]}]}},
    ]})

    lease_token: LeaseToken
    epoch: Epoch | None = Field(default=None, json_schema_extra=_without_null)
    metrics: EpochsMetrics | None = Field(default=None, json_schema_extra=_without_null)
    reports: list[EpochMetrics] | None = Field(default=None, min_length=1,
                                               max_length=MAX_REPORTS,
                                               json_schema_extra=_without_null)

    def epochs(self) -> list[tuple[int, dict[str, float | None]]]:
        """The (epoch, metrics) pairs in order.

        Raises a pydantic ValidationError naming the field that breaks a rule the
        schema cannot state: one form or the other, epochs strictly increasing.
        """
        if self.reports is None:
            if self.epoch is None:
                raise _invalid(("epoch",), "field required (or give `reports`)", "missing")
            if self.metrics is None:
                raise _invalid(("metrics",), "field required (or give `reports`)", "missing")
            return [(self.epoch, self.metrics)]
        for name in ("epoch", "metrics"):
            if getattr(self, name) is not None:
                raise _invalid((name,), "give either `epoch` and `metrics`, or `reports`, "
                               "not both")
        for index in range(1, len(self.reports)):
            if self.reports[index].epoch <= self.reports[index - 1].epoch:
                raise _invalid(("reports", index, "epoch"), "epochs must be strictly increasing")
        return [(entry.epoch, entry.metrics) for entry in self.reports]


def _invalid(loc: tuple[str | int, ...], message: str,
             error_type: str = "value_error") -> ValidationError:
    """A ValidationError of ReportRequest with one error at `loc` (relative to the body)."""
    error = InitErrorDetails(type=PydanticCustomError(error_type, message), loc=loc,
                             input=None)
    return ValidationError.from_exception_data(ReportRequest.__name__, [error])


class CompleteRequest(RequestBody):
    lease_token: LeaseToken
    metrics: FinalMetrics


class FailRequest(RequestBody):
    lease_token: LeaseToken
    error: Text = Field(min_length=1, max_length=20_000)
    retry: bool = False


class AnswerBody(BaseModel):
    """An answer's body: read-only; fields this version does not know are ignored."""

    model_config = ConfigDict(frozen=True)


class Action(AnswerBody):
    """What a worker is told after a heartbeat or a report: continue, stop and why, or pause
    (stop, send the trial's checkpoint, and let it be resumed later: ASHA with resume)."""

    action: Literal["continue", "stop", "pause"]
    reason: str | None
    lease_expires_at: str | None = None

    @property
    def stop(self) -> bool:
        """True when the worker must stop training the trial (to end it, or to pause it)."""
        return self.action != "continue"

    @property
    def pause(self) -> bool:
        """True when the worker must send the trial's checkpoint rather than complete it."""
        return self.action == "pause"


class BuiltinDatasetRef(AnswerBody):
    """A built-in dataset, made locally by the worker from its name and options."""

    kind: Literal["builtin"]
    name: str
    options: dict[str, Any] = Field(default_factory=dict)


class UploadedDatasetRef(AnswerBody):
    """An uploaded dataset: downloaded from `url`, checked against `sha256`, cached."""

    kind: Literal["uploaded"]
    id: int
    name: str
    format: Literal["npz", "csv"]
    label_column: str | None
    sha256: str
    url: str


DatasetRef = Annotated[BuiltinDatasetRef | UploadedDatasetRef, Field(discriminator="kind")]


class ResumeRef(AnswerBody):
    """The checkpoint a promoted trial resumes from: download it from `url` (with the lease
    token), check it against `sha256`, and train on from epoch `epoch`."""

    epoch: int
    sha256: str
    bytes: int
    url: str


class Assignment(AnswerBody):
    """A claimed trial: what to train, on which data, and the lease that proves ownership."""

    trial_id: int
    search_id: int
    number: int
    attempt: int
    params: dict[str, Any]
    dataset: DatasetRef
    split: dict[str, Any]
    objective: dict[str, Any]
    lease_token: str
    lease_expires_at: str
    heartbeat_interval: float
    resume: ResumeRef | None = None
    decide_at: list[int] = Field(default_factory=list)
    """Epoch counts after which the server decides whether the trial goes on (ASHA rungs):
    the worker waits for its report's answer there instead of training on."""
