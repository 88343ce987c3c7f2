"""The client against a real server: the worker protocol's answers, and 409 as LeaseLost."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.e2e.helpers import moons_spec
from worker.client import ApiError, CaviarClient, LeaseLost, RetryPolicy

pytestmark = pytest.mark.timeout(60)
METRICS = {"train_loss": 0.6, "dev_loss": 0.5, "dev_accuracy": 0.75, "learning_rate": 0.01,
           "seconds": 0.02}
FINAL = {"dev_accuracy": 0.75, "dev_loss": 0.5, "train_accuracy": 0.8, "epochs": 1,
         "seconds": 0.02, "samples_per_second": 1000.0}


def test_claim_heartbeat_report_complete(client):
    search = client.create_search(moons_spec("protocol", 1, 1))
    assignment = client.claim("w/1", search_id=search["id"])
    assert assignment is not None
    assert assignment.search_id == search["id"] and assignment.attempt == 1
    assert assignment.params["epochs"] == 1 and assignment.params["optimizer"] == "adam"
    assert assignment.dataset.kind == "builtin" and assignment.dataset.name == "moons"
    assert assignment.heartbeat_interval > 0
    assert not client.heartbeat(assignment.trial_id, assignment.lease_token).stop
    assert not client.report(assignment.trial_id, assignment.lease_token, 0, METRICS).stop
    trial = client.complete(assignment.trial_id, assignment.lease_token, FINAL)
    assert trial["status"] == "completed"
    again = client.complete(assignment.trial_id, assignment.lease_token, FINAL)
    assert again["status"] == "completed", "repeating complete is harmless"
    assert client.claim("w/1", search_id=search["id"]) is None


def test_report_epochs_sends_several_epochs_in_one_request(client):
    search = client.create_search(moons_spec("batched", 1, 3))
    assignment = client.claim("w/1", search_id=search["id"])
    reports = [(epoch, {**METRICS, "dev_accuracy": 0.5 + epoch / 10}) for epoch in range(3)]
    assert not client.report_epochs(assignment.trial_id, assignment.lease_token, reports).stop
    trial = client.get_trial(assignment.trial_id)
    assert [(row["epoch"], row["dev_accuracy"]) for row in trial["intermediate"]] == [
        (0, 0.5), (1, 0.6), (2, 0.7)]
    assert trial["value"] == 0.7 and trial["last_epoch"] == 2
    client.stop_trial(assignment.trial_id)
    assert client.report_epochs(assignment.trial_id, assignment.lease_token, reports).stop


def test_a_stale_lease_token_is_lease_lost(client):
    search = client.create_search(moons_spec("stale", 1, 1))
    first = client.claim("w/1", search_id=search["id"])
    client.fail(first.trial_id, first.lease_token, "worker shutting down", retry_trial=True)
    second = client.claim("w/2", search_id=search["id"])
    assert second.trial_id == first.trial_id and second.attempt == 2
    with pytest.raises(LeaseLost) as lost:
        client.report(first.trial_id, first.lease_token, 0, METRICS)
    assert lost.value.status == 409 and lost.value.detail
    with pytest.raises(LeaseLost):
        client.heartbeat(first.trial_id, first.lease_token)
    with pytest.raises(LeaseLost):
        client.complete(first.trial_id, first.lease_token, FINAL)


def test_a_4xx_carries_the_servers_detail(client):
    with pytest.raises(ApiError) as missing:
        client.get_trial(10**9)
    assert missing.value.status == 404 and "not found" in str(missing.value.detail)
    with pytest.raises(ApiError) as invalid:
        client.create_search({"name": "x", "dataset": "digits", "parameters": {}})
    assert invalid.value.status == 422
    assert any(line.startswith("parameters") for line in invalid.value.messages())


def test_since_polling_returns_only_changes(client):
    search = client.create_search(moons_spec("since", 2, 1))
    everything = client.trials_since(search["id"], 0)
    assignment = client.claim("w/1", search_id=search["id"])
    changed = client.trials_since(search["id"], everything.cursor)
    assert [t["id"] for t in changed.items] == [assignment.trial_id]
    assert changed.cursor > everything.cursor
    assert client.trials_since(search["id"], changed.cursor).items == []


class LosesTheFirstClaimAnswer(httpx.BaseTransport):
    """Sends every request to the real server, but drops the first claim's answer after the
    server made it, as a timeout or a dropped connection does."""

    def __init__(self) -> None:
        self.real = httpx.HTTPTransport()
        self.claims: list[dict] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.real.handle_request(request)
        if request.url.path.endswith("/trials/claim"):
            self.claims.append(json.loads(request.content))
            if len(self.claims) == 1:
                response.read()
                response.close()
                raise httpx.ReadTimeout("the answer was lost", request=request)
        return response


def test_a_claim_whose_answer_was_lost_gets_the_same_trial_on_its_retry(server, client):
    search = client.create_search(moons_spec("lost-claim", 3, 1))
    transport = LosesTheFirstClaimAnswer()
    with CaviarClient(server.url, transport=transport, retry=RetryPolicy(base=0.01)) as lossy:
        assignment = lossy.claim("w/1", search_id=search["id"])
    assert assignment is not None and assignment.attempt == 1
    first, retry = transport.claims
    assert first["claim_key"] == retry["claim_key"], "the retry is the same claim"
    trials = client.list_trials(search["id"])["items"]
    running = [trial for trial in trials if trial["status"] == "running"]
    assert [trial["id"] for trial in running] == [assignment.trial_id], (
        "the lost answer's trial is the one handed out, not held by nobody")
    second = client.claim("w/1", search_id=search["id"])
    assert second is not None and second.trial_id != assignment.trial_id, (
        "a new claim gets a new key, and so a new trial")
