"""Checks a spec's `parameters` and `fixed` against the training keys.

The rules come from `domain.training` (KEYS, check_value, TrainingConfig): the
same definition the worker trains from, so the server never accepts a search
whose trials the worker would refuse.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from domain.params import ChoiceParam, FloatParam, IntParam
from domain.spec_errors import RuleError
from domain.training import KEYS, ConfigError, TrainingConfig, check_value, parse_value

# Above this many (pair of parameters, pair of values) combinations, the
# consistency check varies one parameter at a time instead of two.
MAX_PAIR_CHECKS = 500

Param = FloatParam | IntParam | ChoiceParam


def _canonical(key: str, value: Any) -> Any:
    """The value in the key's type; a numeric key also takes its number written as a string,
    as PyYAML reads `1e-4` (YAML 1.1 wants a dot in a float), like pydantic's number fields."""
    if isinstance(value, str) and KEYS[key].kind in ("int", "float"):
        return parse_value(key, value)
    return check_value(key, value)


def _unknown(key: str) -> str:
    return f"unknown training key {key!r}; known keys: " + ", ".join(KEYS)


def check_fixed(fixed: Mapping[str, Any]) -> tuple[dict[str, Any], list[RuleError]]:
    """Each fixed value in its canonical type, and the errors (loc relative to `fixed`)."""
    canonical, errors = {}, []
    for key, value in fixed.items():
        if key not in KEYS:
            errors.append(RuleError((key,), _unknown(key), value))
            continue
        try:
            canonical[key] = _canonical(key, value)
        except ConfigError as exc:
            errors.append(RuleError((key,), f"{key} {exc.rule}", value))
    return canonical, errors


def check_parameter(key: str, param: Param) -> tuple[Param, list[RuleError]]:
    """The parameter (choice values in canonical type) and the errors (loc relative to it)."""
    spec = KEYS.get(key)
    if spec is None:
        return param, [RuleError((), _unknown(key), key)]
    if isinstance(param, ChoiceParam):
        return _check_choice(key, param)
    if spec.kind not in ("int", "float"):
        return param, [RuleError(
            ("type",), f"{key} takes {spec.rule()}: search it with type choice, not "
            f"{param.type}", param.type,
        )]
    if spec.kind == "int" and isinstance(param, FloatParam):
        return param, [RuleError(
            ("type",), f"{key} takes an integer: search it with type int or choice, not float",
            param.type,
        )]
    errors = []
    for end in ("low", "high"):
        value = getattr(param, end)
        try:
            check_value(key, value)
        except ConfigError as exc:
            errors.append(RuleError((end,), f"{end}: {key} {exc.rule}", value))
    return param, errors


def _check_choice(key: str, param: ChoiceParam) -> tuple[ChoiceParam, list[RuleError]]:
    canonical: list[Any] = []
    errors = []
    for index, value in enumerate(param.values):
        try:
            value = _canonical(key, value)
        except ConfigError as exc:
            errors.append(RuleError(("values", index), f"{key} {exc.rule}", value))
            continue
        if value in canonical:
            errors.append(RuleError(
                ("values", index), f"values must be distinct: {value!r} is listed twice", value,
            ))
            continue
        canonical.append(value)
    return param.model_copy(update={"values": canonical}), errors


def _candidates(param: Param) -> list[Any]:
    """Values that bound what the parameter can take: its range's ends, or every choice."""
    if isinstance(param, ChoiceParam):
        return list(param.values)
    return [param.low, param.high]


def check_combinations(
    parameters: Mapping[str, Param], fixed: Mapping[str, Any]
) -> list[RuleError]:
    """Errors of rules that involve several keys, for any config the search can produce.

    Such rules (today: decay_rate's bound under lr_decay) involve two keys and
    hold on intervals, so trying each parameter, and every pair of parameters,
    at the ends of their ranges and at every choice value covers all samples
    (the other parameters stay at their first candidate). For a very large
    space only one parameter at a time is varied. Locs are relative to the spec.
    """
    candidates = {key: _candidates(param) for key, param in parameters.items()}
    base = {key: values[0] for key, values in candidates.items()}
    singles = ({key: value} for key, values in candidates.items() for value in values)
    pairs = list(itertools.combinations(candidates, 2))
    pair_variations = (
        {a: va, b: vb}
        for a, b in pairs
        for va, vb in itertools.product(candidates[a], candidates[b])
    )
    within_budget = sum(len(candidates[a]) * len(candidates[b]) for a, b in pairs) <= (
        MAX_PAIR_CHECKS)
    for variation in itertools.chain(singles, pair_variations if within_budget else ()):
        sample = {**base, **variation}
        try:
            TrainingConfig.from_dict({**fixed, **sample})
        except ConfigError as exc:
            return [_combination_error(exc, parameters, fixed, sample)]
    return []


def _combination_error(
    exc: ConfigError, parameters: Mapping[str, Param], fixed: Mapping[str, Any],
    sample: Mapping[str, Any],
) -> RuleError:
    if exc.key in parameters:
        loc: tuple[str, ...] = ("parameters", exc.key)
    elif exc.key in fixed:
        loc = ("fixed", exc.key)
    else:
        loc = ("fixed",)
    shown = ", ".join(f"{key}={value!r}" for key, value in {**fixed, **sample}.items())
    return RuleError(
        loc, f"{exc.key} {exc.rule}; a trial of this search could train with {shown}",
        sample.get(exc.key, fixed.get(exc.key)),
    )
