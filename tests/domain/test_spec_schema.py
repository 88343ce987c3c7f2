"""The spec's JSON Schema (the body of POST /searches) accepts what the server accepts and
refuses, where a schema can say so, what it refuses."""

import copy
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from domain.datasets import BUILTIN_NAMES
from domain.spec import SearchSpec, parse_spec
from domain.training import KEYS

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))
SCHEMA = SearchSpec.model_json_schema()
VALIDATOR = Draft202012Validator(SCHEMA)

BASE = {
    "name": "schema-test",
    "dataset": "digits",
    "parameters": {"learning_rate": {"type": "float", "low": 1.0e-4, "high": 1.0,
                                     "scale": "log"}},
}


def spec(**changes) -> dict:
    """BASE with top-level fields changed."""
    return {**copy.deepcopy(BASE), **changes}


VALID = {
    "the minimal spec": BASE,
    "dataset by id": spec(dataset=7),
    "dataset {id}": spec(dataset={"id": 7}),
    "dataset {name, options}": spec(dataset={"name": "moons", "options": {"noise": 0.3}}),
    "dataset {name}": spec(dataset={"name": "spirals"}),
    "sampler without kind": spec(sampler={"seed": 3}),
    "empty sampler": spec(sampler={}),
    "grid": spec(sampler={"kind": "grid", "grid_points": 3}),
    "sobol": spec(sampler={"kind": "sobol", "seed": 2**32 - 1}),
    "coarse to fine": spec(sampler={"kind": "coarse_to_fine", "round_size": 4,
                                    "top_fraction": 1, "shrink": 0.5}),
    "early stopping without kind": spec(early_stopping={}),
    "median": spec(early_stopping={"kind": "median", "min_trials": 2, "min_epochs": 1}),
    "every section": spec(split={"dev": 0.2, "test": 0, "seed": 1},
                          objective={"metric": "dev_loss", "goal": "minimize"},
                          budget={"max_trials": 10_000, "max_parallel": 1, "max_attempts": 100}),
    "goal null": spec(objective={"metric": "train_loss", "goal": None}),
    "every parameter type": spec(parameters={
        "learning_rate": {"type": "float", "low": 1e-4, "high": 1, "scale": "log"},
        "beta1": {"type": "float", "low": 0.8, "high": 0.999, "scale": "reverse_log"},
        "hidden_units": {"type": "int", "low": 8, "high": 512, "scale": "log"},
        "num_layers": {"type": "int", "low": 1, "high": 3},
        "hidden_layers": {"type": "choice", "values": [[64, 64], [128]]},
        "batch_norm": {"type": "choice", "values": [True, False]},
        "activation": {"type": "choice", "values": ["relu", "tanh"]},
        "batch_size": {"type": "choice", "values": [32, 64.0]},
    }),
    "every kind of fixed key": spec(fixed={
        "optimizer": "momentum", "batch_norm": False, "keep_prob": 1, "epochs": 3,
        "hidden_layers": [16, 8], "decay_rate": None, "lr_decay": "staircase",
        "decay_every": 2, "epsilon": 1e-7, "seed": 0,
    }),
}

INVALID = {
    "no name": {k: v for k, v in BASE.items() if k != "name"},
    "no parameters": {k: v for k, v in BASE.items() if k != "parameters"},
    "an unknown field": spec(nmae="typo"),
    "a name starting with a space": spec(name=" x"),
    "a name too long": spec(name="x" * 201),
    "an unknown built-in": spec(dataset="mnist"),
    "an unknown built-in by {name}": spec(dataset={"name": "mnist"}),
    "dataset id 0": spec(dataset=0),
    "dataset {id, name}": spec(dataset={"id": 3, "name": "digits"}),
    "dataset a float": spec(dataset=2.5),
    "split dev 1": spec(split={"dev": 1.0}),
    "a seed below 0": spec(split={"seed": -1}),
    "a seed of 2**32": spec(sampler={"seed": 2**32}),
    "a metric unknown": spec(objective={"metric": "test_accuracy"}),
    "max_trials 0": spec(budget={"max_trials": 0}),
    "max_attempts 101": spec(budget={"max_attempts": 101}),
    "a tpe sampler with no startup": spec(sampler={"kind": "tpe", "startup_trials": 0}),
    "an unknown sampler": spec(sampler={"kind": "bayes"}),
    "a field of another kind": spec(sampler={"kind": "random", "grid_points": 3}),
    "grid_points 1": spec(sampler={"kind": "grid", "grid_points": 1}),
    "shrink 1": spec(sampler={"kind": "coarse_to_fine", "shrink": 1}),
    "asha with eta 1": spec(early_stopping={"kind": "asha", "eta": 1}),
    "no parameter": spec(parameters={}),
    "an unknown training key searched": spec(parameters={"lr": {"type": "float", "low": 0.1,
                                                                "high": 1}}),
    "an unknown parameter type": spec(parameters={"l2": {"type": "real", "low": 0, "high": 1}}),
    "a range without high": spec(parameters={"l2": {"type": "float", "low": 0}}),
    "an unknown scale": spec(parameters={"l2": {"type": "float", "low": 0, "high": 1,
                                                "scale": "ln"}}),
    "a fractional int bound": spec(parameters={"num_layers": {"type": "int", "low": 1.5,
                                                              "high": 3}}),
    "no choice values": spec(parameters={"l2": {"type": "choice", "values": []}}),
    "a null choice value": spec(parameters={"l2": {"type": "choice", "values": [0, None]}}),
    "an unknown fixed key": spec(fixed={"optimiser": "adam"}),
    "a fixed choice not offered": spec(fixed={"optimizer": "adamw"}),
    "a fixed integer not whole": spec(fixed={"epochs": 20.5}),
    "a fixed integer out of range": spec(fixed={"epochs": 0}),
    "a fixed bound that is open": spec(fixed={"keep_prob": 0}),
    "a fixed boolean as a string": spec(fixed={"batch_norm": "yes"}),
    "fixed empty hidden layers": spec(fixed={"hidden_layers": []}),
    "fixed true for an integer": spec(fixed={"epochs": True}),
}


def test_the_schema_is_a_valid_json_schema():
    Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_every_example_spec_is_valid_by_the_schema(path):
    data = yaml.safe_load(path.read_text())
    VALIDATOR.validate(data)
    parse_spec(data)


@pytest.mark.parametrize("data", VALID.values(), ids=VALID.keys())
def test_what_the_server_accepts_the_schema_accepts(data):
    normalized = parse_spec(data).to_json()
    VALIDATOR.validate(data)
    VALIDATOR.validate(normalized)


@pytest.mark.parametrize("data", INVALID.values(), ids=INVALID.keys())
def test_what_the_schema_can_express_it_refuses_as_the_server_does(data):
    assert list(VALIDATOR.iter_errors(data)), "the schema accepts it"
    with pytest.raises(ValidationError):
        parse_spec(data)


def test_sampler_and_early_stopping_are_unions_tagged_by_kind():
    for field, kinds in [("sampler", ["coarse_to_fine", "grid", "random", "sobol", "tpe"]),
                         ("early_stopping", ["asha", "hyperband", "median", "none"])]:
        union = SCHEMA["properties"][field]
        assert union["discriminator"]["propertyName"] == "kind"
        assert sorted(union["discriminator"]["mapping"]) == kinds
        assert len(union["oneOf"]) == len(kinds)
    defaults = {name: SCHEMA["$defs"][name]["properties"]["kind"].get("default")
                for name in ("TPESamplerSpec", "AshaStoppingSpec", "RandomSamplerSpec",
                             "NoEarlyStoppingSpec")}
    assert defaults == {"TPESamplerSpec": "tpe", "AshaStoppingSpec": "asha",
                        "RandomSamplerSpec": None, "NoEarlyStoppingSpec": None}


def test_parameters_are_a_union_tagged_by_type_over_the_training_keys():
    parameters = SCHEMA["properties"]["parameters"]
    assert parameters["propertyNames"] == {"enum": list(KEYS)}
    union = parameters["additionalProperties"]
    assert union["discriminator"]["propertyName"] == "type"
    assert sorted(union["discriminator"]["mapping"]) == ["choice", "float", "int"]


def test_dataset_takes_a_name_an_id_or_either_object():
    forms = SCHEMA["properties"]["dataset"]["anyOf"]
    assert {"type": "string", "enum": list(BUILTIN_NAMES)} in forms
    assert {"type": "integer", "minimum": 1} in forms
    assert {"$ref": "#/$defs/BuiltinDatasetSpec"} in forms
    assert {"$ref": "#/$defs/UploadedDatasetSpec"} in forms


def test_fixed_keys_are_described_by_their_training_key():
    fixed = SCHEMA["properties"]["fixed"]
    assert fixed["additionalProperties"] is False and list(fixed["properties"]) == list(KEYS)
    assert fixed["properties"]["optimizer"]["enum"] == list(KEYS["optimizer"].choices)
    assert fixed["properties"]["epochs"]["description"] == KEYS["epochs"].doc
