"""The search spec: defaults, normalization, and every rule as an error naming field and rule."""

import copy
import math

import pytest
import yaml
from pydantic import ValidationError

from domain.spec import (
    ChoiceParam,
    CoarseToFineSamplerSpec,
    FloatParam,
    SearchSpec,
    UploadedDatasetSpec,
    parse_spec,
)

GOOD = {
    "name": "digits-adam-bn",
    "dataset": "digits",
    "budget": {"max_trials": 60, "max_parallel": 8},
    "parameters": {
        "learning_rate": {"type": "float", "low": 1e-4, "high": 1.0, "scale": "log"},
        "beta1": {"type": "float", "low": 0.9, "high": 0.999, "scale": "reverse_log"},
        "hidden_units": {"type": "int", "low": 50, "high": 100},
        "num_layers": {"type": "int", "low": 2, "high": 4},
        "batch_size": {"type": "choice", "values": [64, 128, 256, 512]},
    },
    "fixed": {"optimizer": "adam", "batch_norm": True, "epochs": 20},
}


def spec_with(path: str, value, base=GOOD) -> dict:
    """GOOD with the dotted `path` set to value (None-like sentinel DELETE removes it)."""
    data = copy.deepcopy(base)
    *parents, last = path.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    if value is DELETE:
        node.pop(last, None)
    else:
        node[last] = value
    return data


class _Delete:
    """The sentinel that removes a key; its repr names it, so test ids are the same in
    every process (pytest-xdist compares them)."""

    def __repr__(self) -> str:
        return "DELETE"


DELETE = _Delete()


def errors_of(data, **kwargs) -> list[dict]:
    with pytest.raises(ValidationError) as info:
        parse_spec(data, **kwargs)
    return info.value.errors()


def test_the_design_example_is_normalized_with_defaults_filled_in():
    normalized = parse_spec(GOOD).to_json()
    assert normalized["dataset"] == {"name": "digits", "options": {}}
    assert normalized["split"] == {"dev": 0.15, "test": 0.15, "seed": 0}
    assert normalized["objective"] == {"metric": "dev_accuracy", "goal": "maximize"}
    assert normalized["budget"] == {"max_trials": 60, "max_parallel": 8, "max_attempts": 3}
    assert normalized["sampler"] == {"kind": "tpe", "seed": 0, "startup_trials": 10,
                                     "multivariate": True}
    assert normalized["early_stopping"] == {"kind": "asha", "eta": 3, "min_epochs": 1,
                                            "grace": 0, "resume": True}
    assert normalized["parameters"]["hidden_units"]["scale"] == "linear"
    assert normalized["fixed"] == {"optimizer": "adam", "batch_norm": True, "epochs": 20}
    assert parse_spec(normalized).to_json() == normalized


def test_minimal_spec_takes_every_default():
    spec = parse_spec({"name": "m", "dataset": {"id": 7},
                       "parameters": {"l2": {"type": "float", "low": 0, "high": 0.1}}})
    assert isinstance(spec.dataset, UploadedDatasetSpec) and spec.dataset.id == 7
    assert spec.budget.max_trials == 20 and spec.budget.max_parallel == 4
    assert spec.sampler.kind == "tpe" and spec.early_stopping.kind == "asha"
    assert isinstance(spec.parameters["l2"], FloatParam)


@pytest.mark.parametrize("changes", [
    {"objective": {"metric": "train_accuracy"}},  # not reported per epoch: nothing to judge
    {"fixed": {"optimizer": "adam", "epochs": 1}},  # no epoch below the first rung's end
])
def test_a_spec_naming_no_early_stopping_gets_asha_only_where_it_can_judge(changes):
    spec = parse_spec({**GOOD, **changes})
    assert spec.early_stopping.kind == "none" and spec.sampler.kind == "tpe"
    named = {**GOOD, **changes, "early_stopping": {"kind": "asha"}}
    assert errors_of(named)[0]["loc"][0] == "early_stopping"  # named: refused, not changed


def test_short_forms_and_kind_settings_are_filled_in():
    data = spec_with("sampler", {"kind": "coarse_to_fine", "seed": 4})
    data["dataset"] = {"name": "moons", "options": {"noise": 0.3}}
    data["early_stopping"] = {"kind": "median"}
    spec = parse_spec(data)
    assert spec.dataset.options == {"n_samples": 1000, "noise": 0.3, "seed": 0}
    assert isinstance(spec.sampler, CoarseToFineSamplerSpec)
    assert (spec.sampler.round_size, spec.sampler.top_fraction, spec.sampler.shrink) == (
        10, 0.2, 0.5)
    assert spec.early_stopping.min_trials == 5 and spec.early_stopping.min_epochs == 3
    assert parse_spec(spec_with("sampler", {"kind": "grid"})).sampler.grid_points == 5
    assert parse_spec(spec_with("dataset", 3)).dataset.id == 3


def test_goal_defaults_to_minimize_for_a_loss():
    spec = parse_spec(spec_with("objective", {"metric": "dev_loss"}))
    assert spec.objective.goal == "minimize"


def test_choice_values_are_checked_and_canonical():
    spec = parse_spec(spec_with("parameters.batch_size.values", [64.0, 128]))
    param = spec.parameters["batch_size"]
    assert isinstance(param, ChoiceParam) and param.values == [64, 128]
    assert all(type(v) is int for v in param.values)
    layers = parse_spec(spec_with("parameters", {
        "hidden_layers": {"type": "choice", "values": [[64, 64], [128]]}}))
    assert layers.parameters["hidden_layers"].values == [[64, 64], [128]]


def test_max_trials_is_checked_against_the_limit_given():
    data = spec_with("budget.max_trials", 50_000)
    assert parse_spec(data).budget.max_trials == 50_000  # no server's limit: not checked
    assert SearchSpec.model_validate(data).budget.max_trials == 50_000
    assert parse_spec(data, max_trials_limit=50_000).budget.max_trials == 50_000
    (error,) = errors_of(spec_with("budget.max_trials", 500), max_trials_limit=100)
    assert error["loc"] == ("budget", "max_trials") and "at most 100" in error["msg"]


@pytest.mark.parametrize("budget", [None, {}, {"max_parallel": 2}])
def test_a_default_max_trials_is_checked_against_the_limit_too(budget):
    """Found by tests/domain/test_spec_properties.py: the default (20) passed a limit of 5."""
    data = spec_with("budget", budget)
    if budget is None:
        del data["budget"]
    (error,) = errors_of(data, max_trials_limit=5)
    assert error["loc"] == ("budget", "max_trials")
    assert error["msg"] == "max_trials must be at most 5 on this server, got 20"
    assert parse_spec(data, max_trials_limit=20).budget.max_trials == 20


@pytest.mark.parametrize("epochs", [None, "", True, [3]])
def test_a_bad_fixed_epochs_is_a_rule_even_when_the_early_stopping_is_the_default(epochs):
    """Found by tests/domain/test_spec_properties.py: choosing the default early stopping
    read `fixed.epochs` before it was checked (null was a TypeError: a 500)."""
    data = spec_with("fixed.epochs", epochs)  # GOOD names no early stopping
    (error,) = errors_of(data)
    assert error["loc"] == ("fixed", "epochs") and "epochs must be an integer" in error["msg"]


def test_all_broken_rules_are_reported_at_once():
    data = spec_with("parameters.num_layers.low", 5)
    data["parameters"]["beta1"]["high"] = 1.5
    locs = {error["loc"] for error in errors_of(data)}
    assert locs == {("parameters", "num_layers", "high"), ("parameters", "beta1", "high")}


def test_a_rule_spanning_two_keys_is_checked_over_the_whole_space():
    data = spec_with("parameters", {
        "lr_decay": {"type": "choice", "values": ["none", "exponential"]},
        "decay_rate": {"type": "float", "low": 0.5, "high": 2.0},
    })
    (error,) = errors_of(data)
    assert error["loc"] == ("parameters", "decay_rate")
    assert "0 < value <= 1 for lr_decay=exponential" in error["msg"]
    assert "decay_rate=2.0" in error["msg"]
    data["parameters"]["decay_rate"]["high"] = 1.0
    assert parse_spec(data).parameters["decay_rate"].high == 1.0
    one_parameter = spec_with("parameters", {"decay_rate": {"type": "float", "low": 0.5,
                                                            "high": 1.5}})
    one_parameter["fixed"] = {"lr_decay": "exponential"}
    (error,) = errors_of(one_parameter)
    assert error["loc"] == ("parameters", "decay_rate") and "got 1.5" in error["msg"]
    fixed_decay = spec_with("fixed", {"lr_decay": "staircase", "decay_rate": 3.0})
    (error,) = errors_of(fixed_decay)
    assert error["loc"] == ("fixed", "decay_rate") and "lr_decay=staircase" in error["msg"]


def _many_choices(n: int) -> dict:
    return {"type": "choice", "values": list(range(1, n + 1))}


BAD = [
    # (path, value, expected loc, fragment of the message)
    ("name", "", ("name",), "1-200 characters"),
    ("name", "x" * 201, ("name",), "1-200 characters"),
    ("name", "<script>alert(1)</script>", ("name",), "letters, digits"),
    ("name", "tab\there", ("name",), "letters, digits"),
    ("name", 5, ("name",), "valid string"),
    ("nmae", "typo", ("nmae",), "Extra inputs are not permitted"),
    ("dataset", DELETE, ("dataset",), "Field required"),
    ("dataset", "mnist", ("dataset", "name"), "unknown built-in dataset 'mnist'"),
    ("dataset", {"name": "moons", "options": {"noise": -1}}, ("dataset", "options"),
     "noise must be a number with 0 <= value"),
    ("dataset", {"name": "digits", "options": {"size": 3}}, ("dataset", "options"),
     "unknown option 'size'"),
    ("dataset", {"id": 0}, ("dataset", "id"), "greater than or equal to 1"),
    ("dataset", {"id": 3, "name": "x"}, ("dataset", "name"), "Extra inputs"),
    ("dataset", 2.5, ("dataset",), "a built-in name, {name, options} or {id}"),
    ("split.dev", 0, ("split", "dev"), "greater than 0"),
    ("split.dev", 1.0, ("split", "dev"), "less than 1"),
    ("split.test", -0.1, ("split", "test"), "greater than or equal to 0"),
    ("split", {"dev": 0.6, "test": 0.4}, ("split", "test"), "dev + test must be < 1"),
    ("split.seed", -1, ("split", "seed"), "greater than or equal to 0"),
    ("split.dev", True, ("split", "dev"), "must be a finite number"),
    ("split.dev", math.nan, ("split", "dev"), "finite number"),
    ("objective.metric", "test_accuracy", ("objective", "metric"), "'dev_accuracy'"),
    ("objective.goal", "maximise", ("objective", "goal"), "'maximize' or 'minimize'"),
    ("objective", {"metric": "dev_loss", "goal": "maximize"}, ("objective", "goal"),
     "goal must be minimize for dev_loss"),
    ("budget.max_trials", 0, ("budget", "max_trials"), "greater than or equal to 1"),
    ("budget.max_trials", 2.5, ("budget", "max_trials"), "valid integer"),
    ("budget.max_parallel", 0, ("budget", "max_parallel"), "greater than or equal to 1"),
    ("budget.max_attempts", 0, ("budget", "max_attempts"), "greater than or equal to 1"),
    ("budget.max_attempts", 101, ("budget", "max_attempts"), "less than or equal to 100"),
    ("budget.max_trails", 5, ("budget", "max_trails"), "Extra inputs"),
    ("sampler", {"kind": "tpe", "startup_trials": 0}, ("sampler", "startup_trials"),
     "greater than or equal to 1"),
    ("sampler", {"kind": "tpe", "multivariate": "yes"}, ("sampler", "multivariate"),
     "valid boolean"),
    ("sampler.kind", "bayes", ("sampler",), "does not match any of the expected tags"),
    ("sampler", {"kind": "grid", "grid_points": 1}, ("sampler", "grid_points"),
     "greater than or equal to 2"),
    ("sampler", {"kind": "random", "grid_points": 3}, ("sampler", "grid_points"),
     "Extra inputs"),
    ("sampler", {"kind": "coarse_to_fine", "shrink": 1.0}, ("sampler", "shrink"),
     "less than 1"),
    ("sampler", {"kind": "coarse_to_fine", "top_fraction": 0}, ("sampler", "top_fraction"),
     "greater than 0"),
    ("sampler", {"kind": "coarse_to_fine", "round_size": 1}, ("sampler", "round_size"),
     "greater than or equal to 2"),
    ("sampler.seed", math.inf, ("sampler", "seed"), "finite number"),
    ("early_stopping", {"kind": "asha", "eta": 1}, ("early_stopping", "eta"),
     "greater than or equal to 2"),
    ("early_stopping", {"kind": "asha", "min_epochs": 0}, ("early_stopping", "min_epochs"),
     "greater than or equal to 1"),
    ("early_stopping", {"kind": "asha", "min_epochs": 20}, ("early_stopping", "min_epochs"),
     "min_epochs must be below the most epochs a trial trains (20)"),
    ("early_stopping", {"kind": "asha", "grace": -1}, ("early_stopping", "grace"),
     "greater than or equal to 0"),
    ("early_stopping", {"kind": "asha", "resume": 1}, ("early_stopping", "resume"),
     "valid boolean"),
    ("early_stopping", {"kind": "hyperband", "eta": 101}, ("early_stopping", "eta"),
     "less than or equal to 100"),
    ("early_stopping", {"kind": "hyperband", "rungs": 3}, ("early_stopping", "rungs"),
     "Extra inputs"),
    ("early_stopping", {"kind": "median", "min_trials": 0}, ("early_stopping", "min_trials"),
     "greater than or equal to 1"),
    ("early_stopping", {"kind": "none", "min_trials": 3}, ("early_stopping", "min_trials"),
     "Extra inputs"),
    ("parameters", {}, ("parameters",), "at least 1 item"),
    ("parameters", {f"k{i}": {"type": "int", "low": 1, "high": 2} for i in range(65)},
     ("parameters",), "at most 64 items"),
    ("parameters.lr", {"type": "float", "low": 0.1, "high": 1}, ("parameters", "lr"),
     "unknown training key 'lr'"),
    ("parameters.learning_rate.type", "real", ("parameters", "learning_rate"),
     "does not match any of the expected tags"),
    ("parameters.learning_rate.high", DELETE, ("parameters", "learning_rate", "high"),
     "Field required"),
    ("parameters.learning_rate.step", 2, ("parameters", "learning_rate", "step"),
     "Extra inputs"),
    ("parameters.learning_rate.high", 1e-4, ("parameters", "learning_rate", "high"),
     "high must be greater than low"),
    ("parameters.learning_rate.low", 0, ("parameters", "learning_rate", "low"),
     "a log scale needs low > 0"),
    ("parameters.learning_rate.scale", "ln", ("parameters", "learning_rate", "scale"),
     "'linear', 'log' or 'reverse_log'"),
    ("parameters.learning_rate.high", math.inf, ("parameters", "learning_rate", "high"),
     "finite number"),
    ("parameters.learning_rate.low", math.nan, ("parameters", "learning_rate", "low"),
     "finite number"),
    ("parameters.learning_rate", {"type": "float", "low": 0.0, "high": 0.1},
     ("parameters", "learning_rate", "low"), "low: learning_rate must be a finite number "
     "with 0 < value"),
    ("parameters.learning_rate", {"type": "float", "low": 1, "high": 5000},
     ("parameters", "learning_rate", "high"), "value <= 1000"),
    ("parameters.beta1.high", 1.0, ("parameters", "beta1", "high"),
     "reverse_log samples 1 - value on a log scale and needs 0 <= low < high < 1"),
    ("parameters.beta1.low", -0.5, ("parameters", "beta1", "low"), "needs 0 <= low"),
    ("parameters.num_layers", {"type": "int", "low": 2, "high": 4, "scale": "reverse_log"},
     ("parameters", "num_layers", "scale"), "int parameters take a linear or log scale"),
    ("parameters.num_layers", {"type": "int", "low": 0, "high": 4, "scale": "log"},
     ("parameters", "num_layers", "low"), "a log scale needs low > 0"),
    ("parameters.num_layers.low", 1.5, ("parameters", "num_layers", "low"),
     "fractional part"),
    ("parameters.num_layers.high", 100, ("parameters", "num_layers", "high"),
     "high: num_layers must be an integer with 1 <= value <= 16"),
    ("parameters.num_layers.low", 4, ("parameters", "num_layers", "high"),
     "the range [4, 4] is empty"),
    ("parameters.batch_size", {"type": "float", "low": 32, "high": 512},
     ("parameters", "batch_size", "type"), "batch_size takes an integer: search it with type "
     "int or choice, not float"),
    ("parameters.optimizer", {"type": "int", "low": 0, "high": 3},
     ("parameters", "optimizer", "type"), "one of sgd, momentum, rmsprop, adam: search it "
     "with type choice"),
    ("parameters.batch_norm", {"type": "float", "low": 0, "high": 1},
     ("parameters", "batch_norm", "type"), "true or false: search it with type choice"),
    ("parameters.batch_size.values", [], ("parameters", "batch_size", "values"),
     "at least 1 item"),
    ("parameters.batch_size", _many_choices(1001), ("parameters", "batch_size", "values"),
     "at most 1000 items"),
    ("parameters.batch_size.values", [64, 0], ("parameters", "batch_size", "values", 1),
     "batch_size must be an integer with 1 <= value"),
    ("parameters.batch_size.values", [64, 64.0], ("parameters", "batch_size", "values", 1),
     "values must be distinct"),
    ("parameters.batch_size.values", [64, math.nan], ("parameters", "batch_size", "values", 1),
     "a choice value must be a string, a finite number"),
    ("parameters.batch_size.values", [64, None], ("parameters", "batch_size", "values", 1),
     "a choice value must be"),
    ("parameters.batch_size.values", [64, {"a": 1}], ("parameters", "batch_size", "values", 1),
     "a choice value must be"),
    ("parameters.activation", {"type": "choice", "values": ["relu", "gelu"]},
     ("parameters", "activation", "values", 1), "activation must be one of relu, leaky_relu"),
    ("parameters.batch_norm", {"type": "choice", "values": [True, "yes"]},
     ("parameters", "batch_norm", "values", 1), "batch_norm must be true or false"),
    ("fixed.epochs", 20.5, ("fixed", "epochs"), "epochs must be an integer"),
    ("fixed.epochs", True, ("fixed", "epochs"), "epochs must be an integer"),
    ("fixed.keep_prob", math.inf, ("fixed", "keep_prob"), "keep_prob must be a finite number"),
    ("fixed.optimiser", "adam", ("fixed", "optimiser"), "unknown training key 'optimiser'"),
    ("fixed.optimizer", "adamw", ("fixed", "optimizer"), "optimizer must be one of sgd"),
    ("fixed.learning_rate", 0.01, ("fixed", "learning_rate"),
     "learning_rate is in both parameters and fixed"),
]


@pytest.mark.parametrize(("path", "value", "loc", "fragment"), BAD,
                         ids=[f"{p}={v!r}"[:60] for p, v, _, _ in BAD])
def test_a_broken_rule_names_the_field_and_the_rule(path, value, loc, fragment):
    errors = errors_of(spec_with(path, value))
    assert any(e["loc"] == loc and fragment in e["msg"] for e in errors), errors


def test_the_median_rule_needs_a_per_epoch_metric():
    data = spec_with("early_stopping", {"kind": "median"})
    data["objective"] = {"metric": "train_accuracy"}
    (error,) = errors_of(data)
    assert error["loc"] == ("early_stopping", "kind")
    assert "train_accuracy is not reported per epoch" in error["msg"]
    data["objective"] = {"metric": "train_loss"}
    assert parse_spec(data).objective.goal == "minimize"


def test_yaml_numbers_without_a_dot_are_read_as_numbers():
    """PyYAML reads `1e-4` as a string (YAML 1.1 floats need a dot); the spec takes it."""
    data = yaml.safe_load("""
        name: yaml-spec
        dataset: digits
        parameters:
          learning_rate: {type: float, low: 1e-4, high: 1, scale: log}
          l2: {type: choice, values: [0, 1e-4, 1e-3]}
        fixed: {epsilon: 1e-7, epochs: 5}
    """)
    assert data["fixed"]["epsilon"] == "1e-7"
    spec = parse_spec(data)
    assert spec.parameters["learning_rate"].low == 1e-4
    assert spec.parameters["l2"].values == [0.0, 1e-4, 1e-3]
    assert spec.fixed == {"epsilon": 1e-7, "epochs": 5}
    (error,) = errors_of(spec_with("fixed.epsilon", "tiny"))
    assert error["loc"] == ("fixed", "epsilon") and "got 'tiny'" in error["msg"]


def test_a_large_space_still_has_each_parameter_checked_against_fixed_keys():
    data = spec_with("parameters", {
        "decay_rate": {"type": "float", "low": 0.5, "high": 1.5},
        "hidden_units": {"type": "choice", "values": list(range(1, 31))},
        "batch_size": {"type": "choice", "values": list(range(1, 31))},
    })
    data["fixed"] = {"lr_decay": "exponential"}
    (error,) = errors_of(data)
    assert error["loc"] == ("parameters", "decay_rate") and "got 1.5" in error["msg"]


@pytest.mark.parametrize("name", ["a", "run-", "digits adam (bn) #2", "x" * 200, "lr=1e-3/b:64"])
def test_sane_names_are_accepted(name):
    assert parse_spec(spec_with("name", name)).name == name
