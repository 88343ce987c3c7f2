"""Spec validation over generated specs (Hypothesis): a spec validates, or every broken rule
is a ValidationError naming its field; never another exception.

The specs are built from the spec's own vocabulary (its sections, the training
keys, the parameter types and scales, the built-in datasets) with values that are
sometimes right and often not (wrong types, NaN, huge lists, unknown keys), so
that the examples reach every validator, the estimate of domain.cost included.
Derandomized and without an example database: every run checks the same specs.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.datasets import BUILTIN_NAMES
from domain.error_format import error_lines
from domain.spec import EARLY_STOPPING_KINDS, SAMPLER_KINDS, SearchSpec, parse_spec
from domain.training import KEYS

PROPERTIES = settings(derandomize=True, database=None, max_examples=400, deadline=None)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=8,
)
"""Any JSON value (and NaN, infinity: YAML and Python callers can give them)."""

NUMBER = st.one_of(
    st.integers(-10, 10**6), st.floats(-1e3, 1e3), st.sampled_from([0, 1, 1e-4, 0.9, 0.999]),
    st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
)


def _or_junk(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the strategy's values, sometimes any JSON value instead."""
    return st.one_of(strategy, strategy, strategy, JSON)


LAYERS = st.lists(st.integers(-1, 5000), min_size=0, max_size=20)


def _value_of(key: str) -> st.SearchStrategy[Any]:
    """Values for a training key: in its kind, around its bounds, or not."""
    spec = KEYS[key]
    if spec.kind == "choice":
        return _or_junk(st.sampled_from(spec.choices))
    if spec.kind == "bool":
        return _or_junk(st.booleans())
    if spec.kind == "int_list":
        return _or_junk(LAYERS)
    return _or_junk(NUMBER)


def _param(key: str) -> st.SearchStrategy[Any]:
    """A parameter spec for a key: float, int or choice, with bounds, scale and values."""
    number = _value_of(key) if KEYS[key].kind in ("int", "float") else NUMBER
    ranged = st.fixed_dictionaries(
        {"type": st.sampled_from(["float", "int"]), "low": number, "high": number},
        optional={"scale": _or_junk(st.sampled_from(["linear", "log", "reverse_log"]))},
    )
    choice = st.fixed_dictionaries(
        {"type": st.just("choice"), "values": st.lists(_value_of(key), max_size=6)})
    return _or_junk(st.one_of(ranged, choice))


KEY_NAMES = st.one_of(st.sampled_from(list(KEYS)), st.text(max_size=10))
PARAMETERS = st.lists(KEY_NAMES, max_size=5, unique=True).flatmap(
    lambda keys: st.fixed_dictionaries({key: _param(key) if key in KEYS else JSON
                                        for key in keys}))
FIXED = st.lists(KEY_NAMES, max_size=5, unique=True).flatmap(
    lambda keys: st.fixed_dictionaries({key: _value_of(key) if key in KEYS else JSON
                                        for key in keys}))
DATASET = _or_junk(st.one_of(
    st.sampled_from(BUILTIN_NAMES),
    st.fixed_dictionaries({"name": st.sampled_from(BUILTIN_NAMES)}, optional={
        "options": st.fixed_dictionaries({}, optional={
            "n_samples": NUMBER, "noise": NUMBER, "n_classes": NUMBER, "seed": NUMBER})}),
    st.integers(-1, 2**40), st.fixed_dictionaries({"id": NUMBER}),
))
SPEC = st.fixed_dictionaries(
    {"name": _or_junk(st.sampled_from(["search", "a b", " lead", "x" * 201, ""])),
     "dataset": DATASET, "parameters": _or_junk(PARAMETERS)},
    optional={
        "fixed": _or_junk(FIXED),
        "split": _or_junk(st.fixed_dictionaries({}, optional={
            "dev": NUMBER, "test": NUMBER, "seed": NUMBER})),
        "objective": _or_junk(st.fixed_dictionaries({}, optional={
            "metric": _or_junk(st.sampled_from(["dev_accuracy", "dev_loss", "train_loss",
                                                "train_accuracy"])),
            "goal": _or_junk(st.sampled_from(["maximize", "minimize"]))})),
        "budget": _or_junk(st.fixed_dictionaries({}, optional={
            "max_trials": NUMBER, "max_parallel": NUMBER, "max_attempts": NUMBER})),
        "sampler": _or_junk(st.fixed_dictionaries({}, optional={
            "kind": _or_junk(st.sampled_from(SAMPLER_KINDS)), "seed": NUMBER,
            "grid_points": NUMBER, "round_size": NUMBER})),
        "early_stopping": _or_junk(st.fixed_dictionaries({}, optional={
            "kind": _or_junk(st.sampled_from(EARLY_STOPPING_KINDS)), "min_epochs": NUMBER,
            "eta": NUMBER, "resume": _or_junk(st.booleans())})),
    },
)
"""A search spec: every section, each usually of its shape, with values right or wrong."""


def _range(low: st.SearchStrategy[Any], high: st.SearchStrategy[Any], kind: str,
           scale: str = "linear") -> st.SearchStrategy[dict[str, Any]]:
    return st.tuples(low, high).map(lambda ends: {"type": kind, "low": ends[0],
                                                  "high": ends[1], "scale": scale})


def _choice(values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.lists(values, min_size=1, max_size=6, unique_by=repr).map(
        lambda chosen: {"type": "choice", "values": chosen})


WIDTHS = st.integers(1, 4096)
GOOD_PARAMS = {
    "learning_rate": _range(st.floats(1e-6, 1e-3), st.floats(1e-2, 1.0), "float", "log"),
    "beta1": _range(st.floats(0.0, 0.9), st.floats(0.95, 0.9999), "float", "reverse_log"),
    "l2": _range(st.floats(0.0, 0.1), st.floats(0.2, 10.0), "float"),
    "hidden_units": _range(st.integers(1, 64), st.integers(65, 4096), "int",
                           "log") | _choice(WIDTHS),
    "num_layers": _range(st.integers(1, 4), st.integers(5, 16), "int"),
    "hidden_layers": _choice(st.lists(WIDTHS, min_size=1, max_size=16)),
    "batch_size": _choice(st.integers(1, 100_000)),
    "epochs": _range(st.integers(1, 10), st.integers(11, 100_000), "int", "log"),
    "activation": _choice(st.sampled_from(KEYS["activation"].choices)),
    "optimizer": _choice(st.sampled_from(KEYS["optimizer"].choices)),
    "batch_norm": _choice(st.booleans()),
}
GOOD_FIXED = {
    "activation": st.sampled_from(KEYS["activation"].choices),
    "init": st.sampled_from(KEYS["init"].choices),
    "optimizer": st.sampled_from(KEYS["optimizer"].choices),
    "lr_decay": st.sampled_from(KEYS["lr_decay"].choices),
    "epochs": st.integers(1, 200),
    "batch_size": st.integers(1, 2048),
    "hidden_layers": st.lists(WIDTHS, min_size=1, max_size=16),
    "keep_prob": st.floats(0.5, 1.0),
}


def _some(pool: dict[str, st.SearchStrategy[Any]], least: int) -> st.SearchStrategy[dict]:
    return st.lists(st.sampled_from(sorted(pool)), min_size=least, max_size=4,
                    unique=True).flatmap(
        lambda keys: st.fixed_dictionaries({key: pool[key] for key in keys}))


GOOD_SPEC = st.tuples(_some(GOOD_PARAMS, 1), _some(GOOD_FIXED, 0)).flatmap(
    lambda sections: st.fixed_dictionaries({
        "name": st.just("generated"),
        "dataset": st.sampled_from(["digits", "breast_cancer", {"name": "moons", "options": {
            "n_samples": 1_000_000}}, {"id": 7}]),
        "parameters": st.just(sections[0]),
        "fixed": st.just({k: v for k, v in sections[1].items() if k not in sections[0]}),
    }, optional={
        "budget": st.fixed_dictionaries({"max_trials": st.integers(1, 20_000)}),
        "sampler": st.fixed_dictionaries({"kind": st.sampled_from(SAMPLER_KINDS)}),
        "early_stopping": st.fixed_dictionaries({"kind": st.sampled_from(
            EARLY_STOPPING_KINDS)}),
    }))
"""A spec of right shapes and values in their ranges: many validate, some pass the limits
of domain.cost (widths up to 4096, 16 layers, a million rows, 100,000 epochs)."""


def _broken(spec: dict[str, Any], path: tuple[str, str | None], junk: Any) -> dict[str, Any]:
    """The spec with one value replaced by junk: a section's, or a key's in it."""
    section, key = path
    if key is None or not isinstance(spec.get(section), dict):
        spec[section] = junk
    else:
        spec[section] = {**spec[section], key: junk}
    return spec


BROKEN_SPEC = st.builds(_broken, GOOD_SPEC, st.sampled_from([
    ("name", None), ("dataset", None), ("parameters", None), ("fixed", None),
    ("budget", "max_trials"), ("sampler", "kind"), ("parameters", "learning_rate"),
    ("parameters", "hidden_layers"), ("fixed", "hidden_layers"), ("fixed", "epochs"),
    ("early_stopping", "kind"), ("split", None),
]), JSON)
"""A good spec with one value replaced by any JSON value."""


def _check(data: dict[str, Any], max_trials_limit: int | None) -> SearchSpec | None:
    """The spec, or None after checking that every broken rule names its field and rule."""
    try:
        return parse_spec(data, max_trials_limit)
    except ValidationError as refused:
        errors = refused.errors()
        assert errors
        for error in errors:
            assert error["loc"], error  # a field of the spec, never the spec as a whole
            assert isinstance(error["msg"], str) and error["msg"].strip(), error
        assert all(": " in line for line in error_lines(errors))  # the CLI's lines
        return None


@PROPERTIES
@given(st.one_of(GOOD_SPEC, BROKEN_SPEC, SPEC), st.sampled_from([None, 10_000, 5]))
def test_a_generated_spec_validates_or_names_each_broken_field(data, limit):
    spec = _check(data, limit)
    if spec is not None:  # a valid spec's normal form is valid, and its own normal form
        again = parse_spec(spec.to_json(), limit)
        assert again.to_json() == spec.to_json()
        assert all(math.isfinite(v) for v in _numbers(spec.to_json()))


def _numbers(value: Any) -> list[float]:
    """Every number in a JSON value (booleans left out)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [value]
    if isinstance(value, dict):
        return [n for item in value.values() for n in _numbers(item)]
    if isinstance(value, list):
        return [n for item in value for n in _numbers(item)]
    return []


@PROPERTIES
@given(JSON)
def test_any_json_value_as_a_spec_is_refused_with_a_rule(data):
    try:
        parse_spec(data)
    except ValidationError as refused:
        assert all(isinstance(error["msg"], str) and error["msg"] for error in refused.errors())
