"""The client's retry policy: backoff with jitter on connection errors and 5xx, never on 4xx.

These use httpx.MockTransport to script the server's answers; the protocol against a
real server is tested in test_client_protocol.py.
"""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from worker.client import (
    ApiError,
    CaviarClient,
    LeaseLost,
    RetryPolicy,
    ServerUnavailable,
)

ASSIGNMENT = {
    "trial_id": 17, "search_id": 3, "number": 4, "attempt": 1,
    "params": {"learning_rate": 0.01, "epochs": 2},
    "dataset": {"kind": "builtin", "name": "moons", "options": {"n_samples": 200}},
    "split": {"dev": 0.15, "test": 0.15, "seed": 0},
    "objective": {"metric": "dev_accuracy", "goal": "maximize"},
    "lease_token": "abc", "lease_expires_at": "2026-11-29T12:01:00Z",
    "heartbeat_interval": 10.0,
}


class Script:
    """Answers requests from a list, in order; records what was asked and the sleeps."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def client(self, policy: RetryPolicy | None = None) -> CaviarClient:
        return CaviarClient("http://caviar.test", transport=httpx.MockTransport(self),
                            retry=policy or RetryPolicy(attempts=5, base=0.1, cap=1.0),
                            sleep=self.sleeps.append, seed=0)


def refused() -> httpx.ConnectError:
    return httpx.ConnectError("connection refused")


def test_connection_errors_and_5xx_are_retried_until_success():
    script = Script(refused(), httpx.Response(503), httpx.Response(500),
                    httpx.Response(200, json=ASSIGNMENT))
    assignment = script.client().claim("w/1")
    assert assignment is not None and assignment.trial_id == 17
    assert assignment.dataset.options == {"n_samples": 200}
    assert len(script.requests) == 4
    assert len(script.sleeps) == 3


def test_backoff_grows_exponentially_with_full_jitter_under_the_cap():
    policy = RetryPolicy(attempts=9, base=0.1, cap=1.0)
    script = Script(*[httpx.Response(503)] * 9)
    with pytest.raises(ServerUnavailable, match="after 9 tries"):
        script.client(policy).heartbeat(17, "abc")
    assert len(script.sleeps) == 8
    for retry, slept in enumerate(script.sleeps):
        assert 0 <= slept <= min(1.0, 0.1 * 2**retry)
    assert len(set(script.sleeps)) == len(script.sleeps), "jitter: no two waits alike"
    assert max(script.sleeps[4:]) > max(script.sleeps[:2]), "waits grow"


def test_jitter_is_reproducible_with_a_seed():
    first, second = Script(*[httpx.Response(502)] * 4), Script(*[httpx.Response(502)] * 4)
    for script in (first, second):
        with pytest.raises(ServerUnavailable):
            script.client(RetryPolicy(attempts=4)).get_search(1)
    assert first.sleeps == second.sleeps


@pytest.mark.parametrize("status", [400, 404, 422])
def test_4xx_is_never_retried_and_carries_the_detail(status):
    detail = [{"loc": ["body", "budget", "max_trials"], "msg": "must be >= 1", "type": "x"}]
    script = Script(httpx.Response(status, json={"detail": detail}))
    with pytest.raises(ApiError) as caught:
        script.client().create_search({"name": "x"})
    assert caught.value.status == status
    assert caught.value.messages() == ["budget.max_trials: must be >= 1"]
    assert len(script.requests) == 1 and script.sleeps == []


def test_409_raises_lease_lost_with_the_servers_sentence():
    script = Script(httpx.Response(409, json={"detail": "lease token is not current"}))
    with pytest.raises(LeaseLost, match="lease token is not current") as caught:
        script.client().report(17, "old", 0, {"dev_accuracy": 0.5})
    assert caught.value.detail == "lease token is not current"
    assert len(script.requests) == 1


def test_claim_without_work_is_none_and_sends_the_body():
    script = Script(httpx.Response(204))
    assert script.client().claim("node/1", search_id=3) is None
    body = json.loads(script.requests[0].content)
    assert len(body.pop("claim_key")) == 32, "a new key for each claim"
    assert body == {"worker_id": "node/1", "search_id": 3}
    assert script.requests[0].url.path == "/api/v1/trials/claim"


def test_unlimited_attempts_retry_until_the_server_is_back():
    script = Script(*[refused()] * 20, httpx.Response(200, json={"id": 17, "status": "completed"}))
    trial = script.client().complete(17, "abc", {"dev_accuracy": 0.9},
                                     retry=RetryPolicy(attempts=None, base=0.01, cap=0.05))
    assert trial["status"] == "completed"
    assert len(script.sleeps) == 20


def test_creating_a_search_is_not_retried_after_a_500():
    """A 500 may have created the search already: retrying could create it twice."""
    script = Script(httpx.Response(500), httpx.Response(201, json={"id": 1}))
    with pytest.raises(ServerUnavailable):
        script.client().create_search({"name": "x"})
    assert len(script.requests) == 1


def test_creating_a_search_is_retried_when_it_cannot_have_arrived():
    script = Script(refused(), httpx.Response(503), httpx.Response(201, json={"id": 5}))
    assert script.client().create_search({"name": "x"})["id"] == 5
    assert len(script.requests) == 3


def test_a_server_that_never_answers_times_out():
    """A socket that accepts connections but never answers: each try ends at the timeout."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        client = CaviarClient(f"http://127.0.0.1:{port}", timeout=0.3,
                              retry=RetryPolicy(attempts=2, base=0.01, cap=0.01))
        started = time.monotonic()
        with pytest.raises(ServerUnavailable, match="ReadTimeout"):
            client.get_search(1)
        assert 0.5 < time.monotonic() - started < 3


def test_retries_running_out_name_the_servers_reason():
    """A worker's log says why the server could not answer, not only that it could not."""
    full = {"detail": "the database is unavailable: database or disk is full"}
    script = Script(*[httpx.Response(503, json=full)] * 2, httpx.Response(502, text="<html>"))
    with pytest.raises(ServerUnavailable) as raised:
        script.client(RetryPolicy(attempts=2, base=0.1, cap=1.0)).heartbeat(17, "abc")
    assert str(raised.value).endswith(
        "server error 503: the database is unavailable: database or disk is full "
        "(after 2 tries)")
    with pytest.raises(ServerUnavailable, match=r"server error 502 \(after 1 tries\)"):
        script.client(RetryPolicy(attempts=1)).heartbeat(17, "abc")
