"""The client's protocol bodies: a request the server would refuse is not sent, an answer
that is not the protocol's is not taken for one."""

from __future__ import annotations

import json

import httpx
import pytest

from domain.protocol import UploadedDatasetRef
from tests.worker.test_client_retry import ASSIGNMENT, Script
from worker.client import ApiError, InvalidRequest, UnexpectedAnswer


def test_a_body_the_server_would_refuse_is_a_422_before_sending():
    script = Script()
    with pytest.raises(InvalidRequest) as refused:
        script.client().report_epochs(17, "abc", [(0, {"dev_loss": float("inf")})])
    assert isinstance(refused.value, ApiError) and refused.value.status == 422
    assert refused.value.messages() == ["reports.0.metrics.dev_loss: Input should be a finite "
                                        "number"]
    with pytest.raises(InvalidRequest, match="lease_token"):
        script.client().heartbeat(17, "")
    assert script.requests == []


def test_bodies_carry_only_what_was_given():
    script = Script(httpx.Response(204), httpx.Response(200, json={"id": 17}))
    client = script.client()
    assert client.claim("w/1") is None
    client.fail(17, "abc", "worker shutting down", retry_trial=True)
    sent = [json.loads(request.content) for request in script.requests]
    sent[0].pop("claim_key")  # every claim carries a new one (test_client_protocol.py)
    assert sent == [{"worker_id": "w/1"},
                    {"lease_token": "abc", "error": "worker shutting down", "retry": True}]


def test_answers_are_parsed_into_the_protocols_models():
    uploaded = {"kind": "uploaded", "id": 7, "name": "iris", "format": "csv",
                "label_column": "species", "sha256": "ab" * 32, "url": "/api/v1/datasets/7/data"}
    script = Script(httpx.Response(200, json={**ASSIGNMENT, "dataset": uploaded}),
                    httpx.Response(200, json={"action": "stop", "reason": "cancelled",
                                              "lease_expires_at": None}))
    client = script.client()
    assignment = client.claim("w/1")
    assert assignment is not None and isinstance(assignment.dataset, UploadedDatasetRef)
    assert client.heartbeat(17, "abc").stop


def test_an_answer_that_is_not_the_protocols_is_unexpected():
    script = Script(httpx.Response(200, json={"action": "halt", "reason": None}),
                    httpx.Response(200, json={**ASSIGNMENT, "dataset": {"kind": "s3"}}))
    client = script.client()
    with pytest.raises(UnexpectedAnswer, match=r"POST /api/v1/trials/17/heartbeat: not an "
                                               r"Action"):
        client.heartbeat(17, "abc")
    with pytest.raises(UnexpectedAnswer, match="not an Assignment"):
        client.claim("w/1")


@pytest.mark.parametrize(("metrics", "line"), [
    ({"dev_accuracy": True}, "metrics.dev_accuracy: a metric value must be a JSON number or "
                             "null, not a boolean"),
    ({"dev_accuracy": 7.5}, "metrics.dev_accuracy: an accuracy must be between 0 and 1, got "
                            "7.5"),
    ({"dev_accuracy": 0.5, "dev_loss": -1.0}, "metrics.dev_loss: a loss must be >= 0, got "
                                              "-1.0"),
])
def test_metrics_the_server_would_refuse_are_not_sent(metrics, line):
    script = Script()
    with pytest.raises(InvalidRequest) as refused:
        script.client().complete(17, "abc", metrics)
    assert refused.value.messages() == [line]
    with pytest.raises(InvalidRequest):
        script.client().report(17, "abc", 0, metrics)
    assert script.requests == []
