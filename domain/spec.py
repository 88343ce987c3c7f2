"""The search spec of DESIGN.md as pydantic v2 models, with every rule a validation error.

Validate with `parse_spec(data, max_trials_limit)`: an error's `loc` names the
field and its `msg` states the rule, ready to be a 422. A spec on a built-in
dataset is also held to domain.cost's limits on one trial's memory and compute;
on an uploaded dataset, whose shape only the server knows, the server checks
them when it creates the search (`uploaded_cost_errors`). The limit on
`budget.max_trials` is the server's (CAVIAR_MAX_TRIALS): without one (the CLI's
offline check) it is not checked. `SearchSpec.to_json()` is the normalized
spec, every default filled in, as the server stores and returns it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Discriminator,
    Field,
    StrictBool,
    Tag,
    ValidationInfo,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from domain.cost import cost_errors
from domain.datasets import BUILTIN_NAMES, DatasetError, Shape, builtin_shape, check_builtin
from domain.params import (
    ChoiceParam,
    FloatParam,
    Integer,
    IntParam,
    Number,
    ParamSpec,
    SpecModel,
    not_bool,
)
from domain.spec_errors import RuleError, raise_rule_errors, without_union_tag
from domain.spec_keys import check_combinations, check_fixed, check_parameter
from domain.training import KEYS

__all__ = [
    "AshaStoppingSpec",
    "BuiltinDatasetSpec",
    "Budget",
    "ChoiceParam",
    "CoarseToFineSamplerSpec",
    "DatasetSpec",
    "EarlyStoppingSpec",
    "FloatParam",
    "GridSamplerSpec",
    "HyperbandStoppingSpec",
    "IntParam",
    "MedianStoppingSpec",
    "NoEarlyStoppingSpec",
    "Objective",
    "ParamSpec",
    "RandomSamplerSpec",
    "SamplerSpec",
    "SearchSpec",
    "SobolSamplerSpec",
    "SplitSpec",
    "TPESamplerSpec",
    "UploadedDatasetSpec",
    "parse_spec",
]

MAX_TRIALS_LIMIT = 10_000  # the server's default limit (CAVIAR_MAX_TRIALS)
MAX_TRIALS_CONTEXT = "max_trials_limit"
STORED_CONTEXT = "stored"
"""Validation context: the spec of a stored search, read back. It was checked against the
limits of domain.cost when it was created; they are not checked again (a search stored
before they changed still runs)."""
MAX_PARAMETERS = 64
_NAME_CHAR = r"[A-Za-z0-9_.,:;=+@#()/-]"
NAME_PATTERN = re.compile(rf"[A-Za-z0-9](?:(?:{_NAME_CHAR}| ){{0,198}}{_NAME_CHAR})?")
NAME_RULE = (
    "name must be 1-200 characters: letters, digits, space and _ . , : ; = + @ # ( ) / -, "
    "starting with a letter or digit and not ending with a space"
)
PER_EPOCH_METRICS = ("dev_accuracy", "dev_loss", "train_loss")
SEED_MAX = 2**32 - 1

# The bounds come before the validator so that the JSON Schema shows them as minimum/maximum.
Seed = Annotated[int, Field(ge=0, le=SEED_MAX), not_bool("an integer")]
Goal = Literal["maximize", "minimize"]


# --- dataset ---------------------------------------------------------------------------------

_BUILTIN_NAME_SCHEMA: dict[str, Any] = {"enum": list(BUILTIN_NAMES)}


class BuiltinDatasetSpec(SpecModel):
    """A built-in dataset by name (domain.datasets), with its options, defaults filled in."""

    name: str = Field(json_schema_extra=_BUILTIN_NAME_SCHEMA)
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_builtin(self) -> BuiltinDatasetSpec:
        try:
            self.options = check_builtin(self.name, self.options)
        except DatasetError as exc:
            loc = ("options",) if self.name in BUILTIN_NAMES else ("name",)
            raise_rule_errors("BuiltinDatasetSpec", [RuleError(loc, str(exc), self.name)])
        return self


class UploadedDatasetSpec(SpecModel):
    """A dataset uploaded with POST /datasets, by id (its existence is the server's check)."""

    id: Integer = Field(ge=1)


def _dataset_object(value: Any) -> Any:
    """Accept the short forms: "digits" for a built-in, 7 for an uploaded dataset's id."""
    if isinstance(value, str):
        return {"name": value}
    if isinstance(value, int) and not isinstance(value, bool):
        return {"id": value}
    return value


def _dataset_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        return "uploaded" if "id" in value else "builtin"
    if isinstance(value, UploadedDatasetSpec):
        return "uploaded"
    if isinstance(value, BuiltinDatasetSpec):
        return "builtin"
    return None


DatasetSpec = Annotated[
    Annotated[
        Annotated[BuiltinDatasetSpec, Tag("builtin")]
        | Annotated[UploadedDatasetSpec, Tag("uploaded")],
        Discriminator(
            _dataset_tag,
            custom_error_type="search_spec",
            custom_error_message="dataset must be a built-in name, {name, options} or {id} "
            "of an uploaded dataset",
        ),
    ],
    WrapValidator(without_union_tag(("builtin", "uploaded"))),
    BeforeValidator(
        _dataset_object,
        json_schema_input_type=Annotated[str, Field(json_schema_extra=_BUILTIN_NAME_SCHEMA)]
        | Annotated[int, Field(ge=1)] | BuiltinDatasetSpec | UploadedDatasetSpec,
    ),
]


# --- split, objective, budget ----------------------------------------------------------------

class SplitSpec(SpecModel):
    """Fractions of the dataset held out for dev and test, and the split's seed."""

    dev: Number = Field(default=0.15, gt=0, lt=1)
    test: Number = Field(default=0.15, ge=0, lt=1)
    seed: Seed = 0

    @model_validator(mode="after")
    def _leaves_training_data(self) -> SplitSpec:
        if self.dev + self.test >= 1:
            raise_rule_errors("SplitSpec", [RuleError(
                ("test",), f"dev + test must be < 1 to leave a training set, got "
                f"{self.dev:g} + {self.test:g}", self.test,
            )])
        return self


def _or_null(schema: dict[str, Any]) -> None:
    """Document a field that also takes null (for "the default")."""
    kept = {key: schema.pop(key) for key in ("enum", "type") if key in schema}
    schema["anyOf"] = [kept, {"type": "null"}]


def _natural_goal(metric: str) -> Goal:
    """minimize for a loss, maximize for anything else."""
    return "minimize" if metric.endswith("_loss") else "maximize"


class Objective(SpecModel):
    """The metric a search optimizes; goal defaults to minimize for losses, else maximize."""

    metric: Literal["dev_accuracy", "dev_loss", "train_loss", "train_accuracy"] = "dev_accuracy"
    goal: Goal = Field(default_factory=lambda: _natural_goal("dev_accuracy"),
                       description="minimize for a loss, maximize otherwise; left out or "
                       "null: the metric's", json_schema_extra=_or_null)

    @model_validator(mode="before")
    @classmethod
    def _goal_of_metric(cls, data: Any) -> Any:
        """A goal left out (or null) is the metric's natural one."""
        if isinstance(data, dict) and data.get("goal") is None:
            metric = data.get("metric", "dev_accuracy")
            return {**data, "goal": _natural_goal(metric) if isinstance(metric, str) else None}
        return data

    @model_validator(mode="after")
    def _goal_fits_metric(self) -> Objective:
        natural = _natural_goal(self.metric)
        if self.goal != natural:
            raise_rule_errors("Objective", [RuleError(
                ("goal",), f"goal must be {natural} for {self.metric}", self.goal,
            )])
        return self


class Budget(SpecModel):
    """How many trials in all, at once, and how many attempts one trial gets."""

    max_trials: Integer = Field(default=20, ge=1)
    max_parallel: Integer = Field(default=4, ge=1)
    max_attempts: Integer = Field(default=3, ge=1, le=100)

    @field_validator("max_trials")
    @classmethod
    def _within_limit(cls, value: int, info: ValidationInfo) -> int:
        limit = (info.context or {}).get(MAX_TRIALS_CONTEXT)
        rule = None if limit is None else max_trials_rule(value, limit)
        if rule is not None:
            raise PydanticCustomError("search_spec", rule)
        return value


def max_trials_rule(max_trials: int, limit: int) -> str | None:
    """The broken rule if a spec's max_trials passes the server's limit, else None."""
    if max_trials > limit:
        return f"max_trials must be at most {limit} on this server, got {max_trials}"
    return None


# --- sampler and early stopping --------------------------------------------------------------

class RandomSamplerSpec(SpecModel):
    """Independent uniform draws on each parameter's scale."""

    kind: Literal["random"]
    seed: Seed = 0


class GridSamplerSpec(SpecModel):
    """Every combination, floats at `grid_points` points (see domain.space.Space.grid_axes)."""

    kind: Literal["grid"]
    seed: Seed = 0
    grid_points: Integer = Field(default=5, ge=2, le=1000)


class SobolSamplerSpec(SpecModel):
    """A scrambled Sobol' sequence (scipy.stats.qmc), seeded by `seed`."""

    kind: Literal["sobol"]
    seed: Seed = 0


class CoarseToFineSamplerSpec(SpecModel):
    """Rounds of `round_size` trials, each inside a box around the last round's best."""

    kind: Literal["coarse_to_fine"]
    seed: Seed = 0
    round_size: Integer = Field(default=10, ge=2, le=10_000)
    top_fraction: Number = Field(default=0.2, gt=0, le=1)
    shrink: Number = Field(default=0.5, gt=0, lt=1)


class TPESamplerSpec(SpecModel):
    """Tree-structured Parzen estimator in the unit cube (service.search.tpe): quasi-random
    (Sobol') startup, then the candidate maximizing l(x) / g(x)."""

    kind: Literal["tpe"] = "tpe"
    seed: Seed = 0
    startup_trials: Integer = Field(default=10, ge=1, le=10_000,
                                    description="trials drawn quasi-randomly before the model")
    multivariate: StrictBool = Field(default=True, description="one joint density over every "
                                     "parameter instead of one per parameter")


class NoEarlyStoppingSpec(SpecModel):
    """Every trial trains all its epochs."""

    kind: Literal["none"]


class MedianStoppingSpec(SpecModel):
    """The median rule (the server's service.search.early_stopping.MedianRule)."""

    kind: Literal["median"]
    min_trials: Integer = Field(default=5, ge=1, le=10_000)
    min_epochs: Integer = Field(default=3, ge=1, le=100_000)


class AshaStoppingSpec(SpecModel):
    """Asynchronous successive halving (service.search.rungs): at each rung
    `min_epochs * eta**k` below a trial's epochs, only the top 1/eta go on."""

    kind: Literal["asha"] = "asha"
    eta: Integer = Field(default=3, ge=2, le=100, description="1/eta of each rung goes on")
    min_epochs: Integer = Field(default=1, ge=1, le=100_000, description="the first rung's epochs")
    grace: Integer = Field(default=0, ge=0, le=10_000, description="a rung stops no trial until "
                           "it holds this many values (as Optuna's bootstrap_count)")
    resume: StrictBool = Field(default=False, description="pause a trial below its rung's top "
                               "instead of ending it, and resume it if it rises into the top")


class HyperbandStoppingSpec(SpecModel):
    """Hyperband: brackets of ASHA whose first rungs are `min_epochs * eta**s`, s = 0..s_max;
    a trial's bracket follows from its number, so that brackets spend about equal epochs."""

    kind: Literal["hyperband"]
    eta: Integer = Field(default=3, ge=2, le=100, description="1/eta of each rung goes on")
    min_epochs: Integer = Field(default=1, ge=1, le=100_000,
                                description="the most aggressive bracket's first rung")
    grace: Integer = Field(default=0, ge=0, le=10_000, description="a rung stops no trial until "
                           "it holds this many values")
    resume: StrictBool = Field(default=False, description="pause instead of stop, as for asha")


RungStoppingSpec = AshaStoppingSpec | HyperbandStoppingSpec


def _tagged(default: str) -> Any:
    """Before validator of a `kind` union: fill the default kind."""

    def fill(value: Any) -> Any:
        if isinstance(value, dict):
            return {**value, "kind": value.get("kind", default)}
        return value

    return BeforeValidator(fill)


SAMPLER_KINDS = ("random", "grid", "sobol", "coarse_to_fine", "tpe")
DEFAULT_SAMPLER = "tpe"
DEFAULT_EARLY_STOPPING = "asha"
"""What a spec that names no sampler or early stopping (or no `kind`) gets: the combination
benchmarks/efficiency.py found best (README, "Defaults"), TPE with ASHA pausing and resuming
trials. Where ASHA cannot judge (an objective not reported per epoch, or trials too short
for a rung) a spec that names no early stopping gets none."""
EARLY_STOPPING_KINDS = ("none", "median", "asha", "hyperband")

SamplerSpec = Annotated[
    Annotated[
        RandomSamplerSpec | GridSamplerSpec | SobolSamplerSpec | CoarseToFineSamplerSpec
        | TPESamplerSpec,
        Field(discriminator="kind"),
    ],
    WrapValidator(without_union_tag(SAMPLER_KINDS)),
    _tagged(DEFAULT_SAMPLER),
]

EarlyStoppingSpec = Annotated[
    Annotated[
        NoEarlyStoppingSpec | MedianStoppingSpec | AshaStoppingSpec | HyperbandStoppingSpec,
        Field(discriminator="kind"),
    ],
    WrapValidator(without_union_tag(EARLY_STOPPING_KINDS)),
    _tagged(DEFAULT_EARLY_STOPPING),
]


# --- the spec --------------------------------------------------------------------------------

class SearchSpec(SpecModel):
    """A search: what to train on, what to search, what to optimize, and how much.

    Its JSON Schema (`SearchSpec.model_json_schema()`) is the body of POST /searches:
    generated from the same definitions as the checks (the training keys, the built-in
    names, the name's pattern); a rule between fields (low < high, a key not both
    searched and fixed) is the server's to check.
    """

    name: str = Field(description=NAME_RULE,
                      json_schema_extra={"pattern": f"^{NAME_PATTERN.pattern}$"})
    dataset: DatasetSpec = Field(description="a built-in dataset's name, {name, options}, or an "
                                 "uploaded dataset's id or {id}")
    split: SplitSpec = Field(default_factory=SplitSpec,
                             description="the held-out fractions and the split's seed")
    objective: Objective = Field(default_factory=Objective,
                                 description="the metric to optimize and its goal")
    budget: Budget = Field(default_factory=Budget, description="trials in all and at once, "
                           "and attempts per trial; max_trials is at most the server's limit "
                           f"(CAVIAR_MAX_TRIALS, {MAX_TRIALS_LIMIT} by default)")
    sampler: SamplerSpec = Field(default_factory=TPESamplerSpec,
                                 description=f"how trials are chosen; kind defaults to "
                                 f"{DEFAULT_SAMPLER}")
    early_stopping: EarlyStoppingSpec = Field(
        default_factory=lambda: AshaStoppingSpec(resume=True),
        description=f"which running trials stop or pause early; left out: {DEFAULT_EARLY_STOPPING} "
        "with resume where the objective is reported per epoch and trials train longer than "
        "its first rung, else none; kind defaults to asha")
    parameters: dict[str, ParamSpec] = Field(
        min_length=1, max_length=MAX_PARAMETERS,
        description="the training keys searched, each with its range or choices",
        json_schema_extra={"propertyNames": {"enum": list(KEYS)}},
    )
    fixed: dict[str, Any] = Field(
        default_factory=dict, max_length=MAX_PARAMETERS,
        description="the training keys set for every trial",
        json_schema_extra={
            "properties": {key: spec.json_schema() for key, spec in KEYS.items()},
            "additionalProperties": False,
        },
    )

    @field_validator("name")
    @classmethod
    def _sane_name(cls, value: str) -> str:
        if not NAME_PATTERN.fullmatch(value):
            raise PydanticCustomError("search_spec", f"{NAME_RULE}, got {value!r}")
        return value

    @model_validator(mode="after")
    def _default_early_stopping_where_it_applies(self) -> SearchSpec:
        """A spec that names no early stopping gets ASHA only where ASHA can judge."""
        if "early_stopping" not in self.model_fields_set and self._early_stopping_errors(
                self.parameters, self.fixed):
            self.early_stopping = NoEarlyStoppingSpec(kind="none")
        return self

    @model_validator(mode="after")
    def _default_max_trials_within_limit(self, info: ValidationInfo) -> SearchSpec:
        """A max_trials left out is the default, which its field's check never sees."""
        limit = (info.context or {}).get(MAX_TRIALS_CONTEXT)
        if limit is not None and "max_trials" not in self.budget.model_fields_set:
            rule = max_trials_rule(self.budget.max_trials, limit)
            if rule is not None:
                raise_rule_errors("SearchSpec", [RuleError(("budget", "max_trials"), rule,
                                                           self.budget.max_trials)])
        return self

    @model_validator(mode="after")
    def _check_training_keys(self, info: ValidationInfo) -> SearchSpec:
        fixed, errors = check_fixed(self.fixed)
        errors = [RuleError(("fixed", *e.loc), e.msg, e.input) for e in errors]
        parameters = {}
        for key, param in self.parameters.items():
            parameters[key], param_errors = check_parameter(key, param)
            errors += [RuleError(("parameters", key, *e.loc), e.msg, e.input)
                       for e in param_errors]
            if key in self.fixed:
                errors.append(RuleError(
                    ("fixed", key), f"{key} is in both parameters and fixed; a key is either "
                    "searched or fixed", self.fixed[key],
                ))
        if not errors:
            errors = check_combinations(parameters, fixed)
        stored = (info.context or {}).get(STORED_CONTEXT, False)
        if not errors and isinstance(self.dataset, BuiltinDatasetSpec) and not stored:
            shape = builtin_shape(self.dataset.name, self.dataset.options)
            errors = cost_errors(parameters, fixed, shape)
        errors += self._early_stopping_errors(parameters, fixed)
        raise_rule_errors("SearchSpec", errors)
        self.fixed, self.parameters = fixed, parameters
        return self

    def _early_stopping_errors(self, parameters: dict[str, ParamSpec], fixed: dict[str, Any]
                               ) -> list[RuleError]:
        """The rules between early stopping and the rest: the objective is reported per
        epoch; a rung rule's first rung lies below the most epochs a trial can train."""
        rule = self.early_stopping
        if rule.kind == "none":
            return []
        if self.objective.metric not in PER_EPOCH_METRICS:
            return [RuleError(
                ("early_stopping", "kind"), f"early stopping ({rule.kind}) compares the "
                f"objective metric epoch by epoch, and {self.objective.metric} is not reported "
                "per epoch; use one of " + ", ".join(PER_EPOCH_METRICS), rule.kind,
            )]
        if isinstance(rule, AshaStoppingSpec | HyperbandStoppingSpec):
            most = self.max_epochs(parameters, fixed)
            if rule.min_epochs >= most:
                return [RuleError(
                    ("early_stopping", "min_epochs"), f"min_epochs must be below the most "
                    f"epochs a trial trains ({most}), or no rung is ever reached; got "
                    f"{rule.min_epochs}", rule.min_epochs,
                )]
        return []

    @staticmethod
    def max_epochs(parameters: dict[str, ParamSpec], fixed: dict[str, Any]) -> int:
        """The most epochs a trial of this spec can train: the searched range's top, the
        fixed value, or the default."""
        default = int(KEYS["epochs"].default)
        searched = parameters.get("epochs")
        if isinstance(searched, IntParam):
            return searched.high
        if isinstance(searched, ChoiceParam):
            return max((value for value in searched.values
                        if isinstance(value, int) and not isinstance(value, bool)),
                       default=default)
        # Read before the fixed values are checked (to pick the default early stopping): a
        # value that breaks its rule counts as the default, and is reported by that check.
        checked, _ = check_fixed({"epochs": fixed["epochs"]} if "epochs" in fixed else {})
        return int(checked.get("epochs", default))

    def trial_epochs(self, params: Mapping[str, Any]) -> int:
        """The epochs a trial with these sampled params trains: its own value, the fixed
        one, or the default."""
        return int(params.get("epochs", self.fixed.get("epochs", KEYS["epochs"].default)))

    def to_json(self) -> dict[str, Any]:
        """The normalized spec, defaults filled in, JSON-ready."""
        return self.model_dump(mode="json")


def uploaded_cost_errors(spec: SearchSpec, shape: Shape) -> list[RuleError]:
    """domain.cost's limits for a spec on an uploaded dataset of this shape (locs relative
    to the spec)."""
    return cost_errors(spec.parameters, spec.fixed, shape)


def parse_spec(data: Any, max_trials_limit: int | None = None, stored: bool = False
               ) -> SearchSpec:
    """Validate a spec (a dict from JSON or YAML), its max_trials against the limit if one
    is given, and a trial's cost (domain.cost) unless it is a stored search's (`stored`);
    raises pydantic.ValidationError."""
    return SearchSpec.model_validate(data, context={MAX_TRIALS_CONTEXT: max_trials_limit,
                                                    STORED_CONTEXT: stored})
