"""The worker protocol's models: requests refuse what the server refuses, answers parse typed.

Their behaviour over HTTP is tested in tests/service/test_protocol.py (the server) and
tests/worker/test_client_protocol.py (the client against it).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from pydantic import ValidationError

from domain.protocol import (
    Action,
    Assignment,
    BuiltinDatasetRef,
    CompleteRequest,
    ReportRequest,
    UploadedDatasetRef,
)
from tests.worker.test_client_retry import ASSIGNMENT

UPLOADED = {"kind": "uploaded", "id": 7, "name": "iris", "format": "csv",
            "label_column": "species", "sha256": "ab" * 32, "url": "/api/v1/datasets/7/data"}


def test_the_dataset_of_an_assignment_is_typed_by_its_kind():
    builtin = Assignment.model_validate(ASSIGNMENT).dataset
    assert isinstance(builtin, BuiltinDatasetRef)
    assert builtin.options == {"n_samples": 200}
    uploaded = Assignment.model_validate({**ASSIGNMENT, "dataset": UPLOADED}).dataset
    assert isinstance(uploaded, UploadedDatasetRef) and uploaded.sha256 == "ab" * 32
    with pytest.raises(ValidationError, match="sha256"):
        Assignment.model_validate({**ASSIGNMENT, "dataset": {**UPLOADED, "sha256": None}})
    with pytest.raises(ValidationError, match="does not match any of the expected tags"):
        Assignment.model_validate({**ASSIGNMENT, "dataset": {"kind": "s3", "name": "x"}})


def test_answers_ignore_fields_they_do_not_know():
    action = Action.model_validate({"action": "stop", "reason": "pruned", "later": 1})
    assert action.stop and action.reason == "pruned" and action.lease_expires_at is None
    assert not Action.model_validate({"action": "continue", "reason": None}).stop


def test_report_epochs_names_the_rule_a_body_breaks():
    cases = [
        ({"metrics": {"dev_accuracy": 0.5}}, ("epoch",), "missing"),
        ({"epoch": 0}, ("metrics",), "missing"),
        ({"epoch": 0, "reports": [{"epoch": 0, "metrics": {}}]}, ("epoch",), "value_error"),
        ({"reports": [{"epoch": 2, "metrics": {}}, {"epoch": 2, "metrics": {}}]},
         ("reports", 1, "epoch"), "value_error"),
    ]
    for body, loc, error_type in cases:
        with pytest.raises(ValidationError) as refused:
            ReportRequest.model_validate({"lease_token": "t", **body}).epochs()
        [error] = refused.value.errors()
        assert (error["loc"], error["type"]) == (loc, error_type)
    both = ReportRequest.model_validate({"lease_token": "t", "reports": [
        {"epoch": 0, "metrics": {"dev_loss": None}}, {"epoch": 3, "metrics": {"dev_loss": 1}}]})
    assert both.epochs() == [(0, {"dev_loss": None}), (3, {"dev_loss": 1.0})]


def test_request_bodies_refuse_unknown_fields():
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        ReportRequest.model_validate({"lease_token": "t", "epoch": 0, "metrics": {},
                                      "metric": {}})


def test_the_protocol_loads_without_the_server_or_the_worker():
    code = ("import sys, domain.protocol\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('service', 'worker', 'fastapi', 'sqlalchemy', 'httpx')))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(("metrics", "name", "words"), [
    ({"dev_accuracy": True}, "dev_accuracy", "a JSON number or null, not a boolean"),
    ({"dev_accuracy": "0.25"}, "dev_accuracy", "a JSON number or null, not a string"),
    ({"dev_accuracy": 7.5}, "dev_accuracy", "an accuracy must be between 0 and 1, got 7.5"),
    ({"train_accuracy": -3}, "train_accuracy", "between 0 and 1, got -3.0"),
    ({"Dev_Accuracy": 1.01}, "Dev_Accuracy", "between 0 and 1"),
    ({"dev_loss": -0.5}, "dev_loss", "a loss must be >= 0, got -0.5"),
])
def test_metric_values_are_numbers_and_accuracies_and_losses_in_range(metrics, name, words):
    for form in ({"epoch": 0, "metrics": metrics},
                 {"reports": [{"epoch": 0, "metrics": metrics}]}):
        with pytest.raises(ValidationError) as refused:
            ReportRequest.model_validate_json(json.dumps({"lease_token": "t", **form}))
        [error] = refused.value.errors()
        prefix = ("metrics",) if "epoch" in form else ("reports", 0, "metrics")
        assert error["loc"] == (*prefix, name) and words in error["msg"]
    with pytest.raises(ValidationError, match=words.replace("(", r"\(")):
        CompleteRequest.model_validate({"lease_token": "t", "metrics": metrics})


def test_metric_values_in_range_and_null_are_taken():
    metrics = {"dev_accuracy": 0, "train_accuracy": 1, "dev_loss": 0, "train_loss": 123.5,
               "learning_rate": -1e-3, "seconds": 2, "dev_accuracy_2": None}
    body = CompleteRequest.model_validate_json(json.dumps({"lease_token": "t",
                                                          "metrics": metrics}))
    assert body.metrics == {**metrics, "dev_accuracy": 0.0, "train_accuracy": 1.0,
                            "dev_loss": 0.0, "seconds": 2.0}
    assert all(type(value) is float for value in body.metrics.values() if value is not None)


def test_the_metrics_schema_states_the_range_rules():
    schema = CompleteRequest.model_json_schema()["properties"]["metrics"]
    accuracy, loss = schema["patternProperties"].values()
    assert accuracy["anyOf"][0] == {"type": "number", "minimum": 0, "maximum": 1}
    assert loss["anyOf"][0] == {"type": "number", "minimum": 0}
