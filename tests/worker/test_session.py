"""The trial session: the engine never waits on reports; stops, 409s and 5xx still reach it.

A scripted server (httpx.MockTransport) answers after a delay, as a busy server does.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from bisect import bisect
from collections.abc import Callable
from itertools import pairwise

import httpx
import numpy as np

from domain.protocol import Assignment
from domain.training import TrainingConfig
from tests.worker.test_client_retry import ASSIGNMENT
from worker.client import CaviarClient, RetryPolicy
from worker.nn.train import EpochReport, train
from worker.session import TrialSession

CONTINUE = {"action": "continue", "reason": None}  # the server's answer to go on


class SlowServer:
    """Answers every call after `delay` seconds; `answer(body)` picks the answer of a report."""

    def __init__(self, delay: float,
                 answer: Callable[[dict], httpx.Response] | None = None) -> None:
        self.delay = delay
        self.answer = answer or (lambda body: httpx.Response(200, json=CONTINUE))
        self.calls: list[tuple[str, dict]] = []
        self.heartbeat_times: list[float] = []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        time.sleep(self.delay)
        body = json.loads(request.content)
        verb = request.url.path.rsplit("/", 1)[1]
        with self.lock:
            self.calls.append((verb, body))
            if verb == "heartbeat":
                self.heartbeat_times.append(time.monotonic())
        if verb == "report":
            return self.answer(body)
        return httpx.Response(200, json={**CONTINUE, "status": "completed"})

    def reported_epochs(self) -> list[list[int]]:
        """The epochs of each report request, in the order they arrived."""
        return [[entry["epoch"] for entry in body["reports"]]
                for verb, body in self.calls if verb == "report"]


def session_on(server: SlowServer, shutting_down: Callable[[], bool] = lambda: False
               ) -> TrialSession:
    client = CaviarClient("http://caviar.test", transport=httpx.MockTransport(server),
                          retry=RetryPolicy(attempts=1), seed=0)
    session = TrialSession(client, Assignment.model_validate(ASSIGNMENT),
                           logging.getLogger("test-session"), shutting_down, tick=0.01)
    session.start()
    return session


def epoch(number: int) -> EpochReport:
    return EpochReport(number, 1.0 / (number + 1), 0.5, 0.5 + number / 1000, 0.01, 0.001)


def test_a_slow_server_does_not_slow_the_engine_and_gets_batches_in_order():
    server = SlowServer(delay=0.2)
    session = session_on(server)
    started = time.monotonic()
    assert all(session.on_epoch(epoch(n)) for n in range(50))
    assert time.monotonic() - started < 0.2, "the engine waited for the server"
    finished = []
    session.settle(lambda: finished.append(server.reported_epochs()))
    session.wait()
    batches = server.reported_epochs()
    assert [n for batch in batches for n in batch] == list(range(50))
    assert len(batches) < 10, "queued epochs were not sent together"
    assert finished == [batches], "the outcome was sent before the last report"
    assert server.calls[0][1]["reports"][1] == {"epoch": 1, "metrics": epoch(1).as_dict()}


def test_a_stop_answer_reaches_the_engine_within_a_round_trip_and_an_epoch():
    told = threading.Event()

    def answer(body: dict) -> httpx.Response:
        if body["reports"][-1]["epoch"] >= 3:
            told.set()
            return httpx.Response(200, json={"action": "stop", "reason": "pruned by median rule"})
        return httpx.Response(200, json=CONTINUE)

    server = SlowServer(delay=0.05, answer=answer)
    session = session_on(server)
    epochs_after_told = 0
    for n in range(500):
        if told.is_set():
            epochs_after_told += 1
        if not session.on_epoch(epoch(n)):
            break
        time.sleep(0.01)
    else:
        raise AssertionError("the engine was never told to stop")
    assert session.stop_reason == "pruned by median rule"
    # The answer is on its way for `delay` seconds (5 epochs of 10 ms) after the decision.
    assert epochs_after_told <= 15
    session.close()


def test_a_lost_lease_drops_the_trial_and_skips_its_outcome():
    server = SlowServer(delay=0.01, answer=lambda body: httpx.Response(
        409, json={"detail": "trial 17: the lease token is not the trial's current one"}))
    session = session_on(server)
    session.on_epoch(epoch(0))
    deadline = time.monotonic() + 5
    while session.on_epoch(epoch(1)):
        assert time.monotonic() < deadline, "the 409 never reached the engine"
        time.sleep(0.01)
    assert session.lost
    outcome = []
    session.settle(lambda: outcome.append("sent"))
    session.wait()
    assert outcome == []


def test_reports_are_resent_after_a_5xx_and_none_is_lost():
    answers = [httpx.Response(503), httpx.Response(500)]

    def answer(body: dict) -> httpx.Response:
        return answers.pop(0) if answers else httpx.Response(200, json=CONTINUE)

    server = SlowServer(delay=0.01, answer=answer)
    session = session_on(server)
    for n in range(5):
        assert session.on_epoch(epoch(n))
    session.close()
    delivered = server.reported_epochs()[2:]  # the first two tries were refused
    assert [n for batch in delivered for n in batch] == list(range(5))


def test_heartbeats_keep_the_lease_while_the_engine_reports_nothing():
    server = SlowServer(delay=0.0)
    client = CaviarClient("http://caviar.test", transport=httpx.MockTransport(server),
                          retry=RetryPolicy(attempts=1), seed=0)
    assignment = Assignment.model_validate({**ASSIGNMENT, "heartbeat_interval": 0.05})
    session = TrialSession(client, assignment, logging.getLogger("test-session"),
                           lambda: False, tick=0.01)
    session.start()
    time.sleep(0.3)
    session.close()
    assert [verb for verb, _ in server.calls].count("heartbeat") >= 2


def test_heartbeats_go_on_during_an_epoch_of_small_steps():
    """The lease thread needs the GIL while the engine trains: NumPy lets go of it and
    takes it back around every BLAS call, which can starve a waiting thread for a whole
    epoch (heartbeats stalled past a 2 s lease); the session's per-step callback yields.

    Counted in optimizer steps, not seconds, so that a busy machine (which slows both
    threads) does not fail it: heartbeats are due every 0.05 s, about 300 steps here."""
    server = SlowServer(delay=0.0)
    client = CaviarClient("http://caviar.test", transport=httpx.MockTransport(server),
                          retry=RetryPolicy(attempts=1), seed=0)
    assignment = Assignment.model_validate({**ASSIGNMENT, "heartbeat_interval": 0.05})
    session = TrialSession(client, assignment, logging.getLogger("test-session"),
                           lambda: False, tick=0.01)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    steps: list[float] = []

    def on_batch() -> None:
        steps.append(time.monotonic())
        session.on_batch()

    session.start()
    train(TrainingConfig(epochs=1, batch_size=1, hidden_units=12, seed=0), X, y, X[:500],
          y[:500], on_batch=on_batch)
    session.close()
    beats = [steps[0], *[t for t in server.heartbeat_times if t < steps[-1]], steps[-1]]
    between = [bisect(steps, b) - bisect(steps, a) for a, b in pairwise(beats)]
    assert len(steps) == len(X) and max(between) < len(X) / 5
