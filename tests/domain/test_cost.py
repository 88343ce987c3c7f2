"""A trial's worst memory and compute over a search space, refused before any trial exists."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from domain.cost import MAX_TRIAL_BYTES, MAX_TRIAL_FLOPS, cost_errors, trial_cost, worst_costs
from domain.datasets import Shape, builtin_shape
from domain.spec import parse_spec, uploaded_cost_errors
from tests.service.helpers import make_spec

DIGITS = builtin_shape("digits")


def test_a_trial_cost_counts_parameters_activations_data_and_operations():
    cost = trial_cost(Shape(1000, 10, 3), (20, 20), batch_size=50, epochs=7)
    assert cost.parameters == 10 * 20 + 20 + 20 * 20 + 20 + 20 * 3 + 3
    assert cost.parameter_bytes == cost.parameters * 5 * 4
    assert cost.activation_bytes == (50 * 6 + 1000 * 2) * (10 + 20 + 20 + 3) * 4
    assert cost.data_bytes == 1000 * 10 * 16
    assert cost.flops == 6 * 7 * 1000 * cost.parameters
    assert cost.bytes == cost.parameter_bytes + cost.activation_bytes + cost.data_bytes


def test_the_worst_case_takes_each_size_at_its_largest_and_every_layer_choice():
    spec = parse_spec(make_spec(parameters={
        "num_layers": {"type": "int", "low": 1, "high": 4},
        "hidden_units": {"type": "int", "low": 8, "high": 300, "scale": "log"},
        "batch_size": {"type": "choice", "values": [32, 256, 64]},
        "epochs": {"type": "int", "low": 5, "high": 40},
    }, fixed={"optimizer": "adam"}))
    memory, compute = worst_costs(spec.parameters, spec.fixed, DIGITS)
    assert memory == compute
    assert (memory.hidden, memory.batch_size, memory.epochs) == ((300,) * 4, 256, 40)
    layers = parse_spec(make_spec(parameters={"hidden_layers": {
        "type": "choice", "values": [[16], [512, 512], [64, 64, 64]]}}))
    memory, _ = worst_costs(layers.parameters, layers.fixed, DIGITS)
    assert memory.hidden == (512, 512) and memory.epochs == 5  # make_spec fixes 5 epochs


def test_the_example_specs_are_far_below_the_limits():
    spec = parse_spec(make_spec())
    memory, compute = worst_costs(spec.parameters, spec.fixed, DIGITS)
    assert memory.bytes < MAX_TRIAL_BYTES / 100 and compute.flops < MAX_TRIAL_FLOPS / 1000


def test_the_largest_network_the_caps_allow_is_refused_and_six_such_layers_are_not():
    def spec(layers: int) -> dict:
        changed = make_spec(fixed={"hidden_layers": [4096] * layers, "epochs": 5})
        del changed["parameters"]["hidden_units"]
        return changed

    with pytest.raises(ValidationError) as refused:
        parse_spec(spec(16))
    [error] = refused.value.errors()
    assert error["loc"] == ("fixed", "hidden_layers")
    assert "more than the limit of 2 GiB per trial" in error["msg"]
    assert "16 x 4096 units (252,026,890 parameters" in error["msg"]
    parse_spec(spec(6))


def test_an_uploaded_dataset_is_checked_with_its_shape():
    spec = parse_spec(make_spec(dataset={"id": 7}, fixed={"hidden_layers": [2048] * 4}))
    assert uploaded_cost_errors(spec, Shape(100, 10, 2)) == []
    [memory] = uploaded_cost_errors(spec, Shape(2_000_000, 1000, 2))
    assert memory.loc == ("dataset",) and "about 30.4 GiB" in memory.msg  # mostly the data
    assert memory.msg.endswith("(29.8 GiB); use a smaller dataset")
    longer = parse_spec(make_spec(dataset={"id": 7}, fixed={"epochs": 100_000}))
    [compute] = uploaded_cost_errors(longer, Shape(1_000_000, 100, 2))
    assert compute.loc == ("fixed", "epochs")
    assert "6 x 100000 epochs x 1000000 examples x 20,402 parameters" in compute.msg


def test_defaults_only_name_the_dataset():
    assert cost_errors({}, {}, DIGITS) == []
    [memory] = cost_errors({}, {}, Shape(10_000_000, 10_000, 2))
    assert memory.loc == ("dataset",)


def test_a_stored_spec_is_read_back_without_the_estimate():
    """A search created before the limits changed still runs."""
    spec = make_spec(fixed={"hidden_layers": [4096] * 8})
    del spec["parameters"]["hidden_units"]
    with pytest.raises(ValidationError, match="more than the limit of 2 GiB"):
        parse_spec(spec)
    assert parse_spec(spec, stored=True).fixed["hidden_layers"] == [4096] * 8
