"""Validation errors with a precise `loc`, raised from inside pydantic validators.

A validator that checks several fields at once (a range's low against its high,
a key against the training config) would otherwise report its error at the
model's own location; raising a `ValidationError` built here keeps the `loc` of
the offending field, which pydantic prefixes with the enclosing path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

ERROR_TYPE = "search_spec"


@dataclass(frozen=True)
class RuleError:
    """One broken rule: where (`loc`, relative to the model being validated) and which."""

    loc: tuple[str | int, ...]
    msg: str
    input: Any = None


def raise_rule_errors(title: str, errors: Iterable[RuleError]) -> None:
    """Raise one ValidationError carrying every error, or return if there is none."""
    details = [
        InitErrorDetails(
            type=PydanticCustomError(ERROR_TYPE, error.msg), loc=error.loc, input=error.input
        )
        for error in errors
    ]
    if details:
        raise ValidationError.from_exception_data(title, details)


def without_union_tag(tags: Iterable[str]) -> Callable[[Any, Callable[[Any], Any]], Any]:
    """A wrap validator for a tagged union that drops the tag from its errors' `loc`.

    Pydantic reports an error inside `{"type": "float", "low": ...}` at
    `(..., "float", "low")`; the user wrote no field called "float", so the
    error is re-raised at `(..., "low")`.
    """
    tag_set = frozenset(tags)

    def validate(value: Any, handler: Callable[[Any], Any]) -> Any:
        try:
            return handler(value)
        except ValidationError as exc:
            details = []
            for error in exc.errors():
                loc = error["loc"]
                if loc and loc[0] in tag_set:
                    loc = loc[1:]
                details.append(
                    InitErrorDetails(
                        type=PydanticCustomError(error["type"], error["msg"]),
                        loc=loc,
                        input=error["input"],
                    )
                )
            raise ValidationError.from_exception_data(exc.title, details) from None

    return validate
