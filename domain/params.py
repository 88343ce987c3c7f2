"""The search space's parameter models: float, int and choice, tagged by `type`.

Each model checks what it can on its own (a non-empty range, a scale its range
allows); whether a parameter suits its training key is checked in `spec_keys.py`.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    WrapValidator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from domain.spec_errors import RuleError, raise_rule_errors, without_union_tag
from domain.training import MAX_HIDDEN_LAYERS

MAX_CHOICE_VALUES = 1000

Scale = Literal["linear", "log", "reverse_log"]


class SpecModel(BaseModel):
    """Base of every spec model: unknown fields and non-finite numbers are errors."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def not_bool(what: str) -> BeforeValidator:
    """Pydantic would read true as 1; a number field takes numbers only."""

    def check(value: Any) -> Any:
        if isinstance(value, bool):
            raise PydanticCustomError("search_spec", f"must be {what}, got {value!r}")
        return value

    return BeforeValidator(check)


Number = Annotated[float, not_bool("a finite number")]
Integer = Annotated[int, not_bool("an integer")]


MAX_LIST_VALUE = MAX_HIDDEN_LAYERS
"""The most entries of a list among a choice's values (a choice of `hidden_layers`)."""


def _choice_value(value: Any) -> Any:
    """A choice value is JSON-plain: a string, a finite number, a boolean or a list of ints."""
    if isinstance(value, list) and len(value) > MAX_LIST_VALUE:
        raise PydanticCustomError(
            "search_spec", f"a list among a choice's values has at most {MAX_LIST_VALUE} "
            f"entries, got {len(value)}",
        )
    plain = isinstance(value, str | bool | int) or (
        isinstance(value, float) and math.isfinite(value)
    ) or (
        isinstance(value, list) and value
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    )
    if not plain:
        shown = repr(value) if len(repr(value)) <= 200 else repr(value)[:200] + "..."
        raise PydanticCustomError(
            "search_spec", f"a choice value must be a string, a finite number, true/false or a "
            f"non-empty list of integers, got {shown}",
        )
    return value


ChoiceValue = Annotated[
    bool | int | float | str | list[int],
    PlainValidator(
        _choice_value,
        json_schema_input_type=bool | int | float | str
        | Annotated[list[int], Field(min_length=1, max_length=MAX_LIST_VALUE)],
    ),
]


def range_errors(low: float, high: float, scale: str) -> list[RuleError]:
    """The rules of a numeric range on its scale (DESIGN.md, "Scales")."""
    errors = []
    if low >= high:
        errors.append(RuleError(
            ("high",), f"high must be greater than low: the range [{low:g}, {high:g}] is empty",
            high,
        ))
    if scale == "log" and low <= 0:
        errors.append(RuleError(("low",), f"a log scale needs low > 0, got {low:g}", low))
    if scale == "reverse_log":
        rule = "reverse_log samples 1 - value on a log scale and needs 0 <= low < high < 1"
        if low < 0:
            errors.append(RuleError(("low",), f"{rule}, got low={low:g}", low))
        if high >= 1:
            errors.append(RuleError(("high",), f"{rule}, got high={high:g}", high))
    return errors


class FloatParam(SpecModel):
    """A real number in [low, high], sampled uniformly on its scale."""

    type: Literal["float"]
    low: Number
    high: Number
    scale: Scale = "linear"

    @model_validator(mode="after")
    def _check_range(self) -> FloatParam:
        raise_rule_errors("FloatParam", range_errors(self.low, self.high, self.scale))
        return self


class IntParam(SpecModel):
    """An integer in [low, high]: sampled on its scale, then rounded."""

    type: Literal["int"]
    low: Integer
    high: Integer
    scale: Scale = "linear"

    @model_validator(mode="after")
    def _check_range(self) -> IntParam:
        errors = range_errors(self.low, self.high, self.scale)
        if self.scale == "reverse_log":
            errors = [RuleError(
                ("scale",), "int parameters take a linear or log scale; reverse_log is for "
                "floats in [0, 1) such as beta1", self.scale,
            )]
        raise_rule_errors("IntParam", errors)
        return self


class ChoiceParam(SpecModel):
    """One of a list of values, each picked with the same probability."""

    type: Literal["choice"]
    values: list[ChoiceValue] = Field(min_length=1, max_length=MAX_CHOICE_VALUES)


PARAM_TYPES = ("float", "int", "choice")

ParamSpec = Annotated[
    Annotated[FloatParam | IntParam | ChoiceParam, Field(discriminator="type")],
    WrapValidator(without_union_tag(PARAM_TYPES)),
]
