"""Simulated workers for benchmarks/load.py: asyncio coroutines speaking the worker protocol.

Each simulated worker does what `caviar worker` does (worker/runner.py, worker/session.py),
with sleeps in place of training: claim (no search id; a new claim key, the same in the
claim's retries); when there is no work wait 0.5 s and ask again; on a trial, "train" its
epochs (each a seeded random 1-5 s) while a session loop sends everything queued as one
batched report as soon as the previous request is answered, heartbeats, and at the end
completes (retried until the server accepts it or answers 409). Failed requests are retried
as the worker's client retries them (exponential backoff with full jitter, 5 tries); a
claim the server cannot answer waits min(5 s, 0.5 s per failure). At the deadline a
simulated worker gives its trial back (`fail` with `retry: true`), as a worker that is
shut down does.

Heartbeats: `worker` sends one only when nothing extended the lease for the interval the
claim answered, as the real worker does (with 1-5 s epochs and a 10 s interval that is
never); `interval` sends one every interval whatever the reports did, the heavier load.

Every simulated worker keeps one connection (the real worker's session thread and main
loop share an httpx pool, mostly one connection). Each process records per route the
latency of every call started before the deadline, the answers by status, the transport
errors, and a ledger of each trial attempt: the epochs whose reports were answered 200,
those sent without an answer, and whether its completion or give-back was answered 200.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import resource
import time
import traceback
from array import array
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from bench_http import AsyncJsonClient, ConnectionDropped  # this folder

API = "/api/v1"
MAX_BATCH = 1000  # epochs per report request: the server's limit
SHUTDOWN_ERROR = "worker shutting down"
POLL_SECONDS = 0.5  # worker.runner.RunnerOptions.poll_seconds
CLAIM_ERROR_WAIT = 5.0  # the runner's wait after a refused claim
HARD_MARGIN = 120.0  # seconds past the deadline after which a client process gives up
TRANSPORT_ERRORS = (OSError, ConnectionDropped, TimeoutError)


@dataclass(frozen=True)
class Retry:
    """worker.client.RetryPolicy: `attempts` tries, waits U(0, min(cap, base * 2**n))."""

    attempts: int = 5
    base: float = 0.2
    cap: float = 5.0

    def delay(self, retry: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.cap, self.base * 2**retry))


DEFAULT_RETRY = Retry()
GIVE_BACK_RETRY = Retry(attempts=3, base=0.1, cap=1.0)  # worker.session.GIVE_BACK_RETRY


@dataclass(frozen=True)
class SimConfig:
    """What every simulated worker of a run is told."""

    url: str
    duration: float
    ramp: float  # workers start at seeded random times within this many seconds
    epochs: int
    epoch_seconds: tuple[float, float]
    heartbeats: str  # "interval" or "worker"
    seed: int
    timeout: float = 60.0


@dataclass
class Attempt:
    """One claimed trial attempt, as its simulated worker saw it."""

    trial_id: int
    attempt: int
    worker: str
    acked: set[int] = field(default_factory=set)  # epochs whose report was answered 200
    unsure: set[int] = field(default_factory=set)  # sent, answer never received
    completed: bool = False
    given_back: bool = False
    lost: bool = False  # a 409: the lease was gone


@dataclass
class ClientResult:
    """What one client process measured (picklable, sent to the parent)."""

    workers: int = 0
    start: float = math.inf  # time.monotonic() at the run's start (one clock for all processes)
    calls: int = 0  # calls started before the deadline (answered or not)
    latencies: dict[str, array] = field(default_factory=dict)  # route -> ms, before deadline
    started: dict[str, array] = field(default_factory=dict)  # route -> s into the run, of each
    shutdown: dict[str, array] = field(default_factory=dict)  # route -> ms, after the deadline
    statuses: Counter = field(default_factory=Counter)  # (route, status) before the deadline
    errors: Counter = field(default_factory=Counter)  # (route, status or exception name)
    attempts: list[Attempt] = field(default_factory=list)
    reconnects: int = 0
    loop_lag_ms: array = field(default_factory=lambda: array("d"))
    cpu_seconds: float = 0.0
    batch_sizes: Counter = field(default_factory=Counter)


class Clock:
    """The run's start and deadline on this process's monotonic clock."""

    def __init__(self, start: float, duration: float) -> None:
        self.start = start
        self.deadline = start + duration

    def over(self) -> bool:
        return time.monotonic() >= self.deadline

    def left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())


class SimWorker:
    """One simulated worker: its connection, seeded randomness and the loop of claims."""

    def __init__(self, config: SimConfig, name: str, seed: int, clock: Clock,
                 result: ClientResult) -> None:
        self.config = config
        self.name = name
        self.rng = random.Random(seed)
        self.clock = clock
        self.result = result
        self.http = AsyncJsonClient(config.url, timeout=config.timeout)

    async def run(self) -> None:
        """Claim and run trials until the deadline."""
        await asyncio.sleep(self.rng.uniform(0, self.config.ramp))
        unreachable = 0
        try:
            while not self.clock.over():
                claim_key = f"{self.rng.getrandbits(128):032x}"
                status, assignment = await self.call(
                    "claim", "/trials/claim", {"worker_id": self.name, "claim_key": claim_key})
                if status is None:
                    unreachable += 1
                    await self.idle(min(5.0, 0.5 * unreachable))
                    continue
                unreachable = 0
                if status == 204:
                    await self.idle(POLL_SECONDS)
                elif status != 200:
                    await self.idle(CLAIM_ERROR_WAIT)
                else:
                    await self.run_trial(assignment)
        finally:
            self.result.reconnects += self.http.reconnects
            self.http.close()

    async def idle(self, seconds: float) -> None:
        await asyncio.sleep(min(seconds, self.clock.left()))

    async def call(self, route: str, path: str, body: dict[str, Any],
                   retry: Retry = DEFAULT_RETRY) -> tuple[int | None, Any]:
        """POST with the worker client's retries; (status, answer), or (None, None) when
        the server could not be reached or kept answering 5xx or 429."""
        tries = 0
        while True:
            started = time.monotonic()
            in_window = started < self.clock.deadline
            key = route if in_window else f"{route} (shutdown)"
            if in_window:
                self.result.calls += 1
            try:
                status, answer = await self.http.post(API + path, body)
            except TRANSPORT_ERRORS as error:
                self.result.errors[(key, type(error).__name__)] += 1
            else:
                book = self.result.latencies if in_window else self.result.shutdown
                book.setdefault(key, array("d")).append((time.monotonic() - started) * 1e3)
                if in_window:
                    self.result.started.setdefault(key, array("d")).append(
                        started - self.clock.start)
                    self.result.statuses[(route, status)] += 1
                if status not in (200, 204):
                    self.result.errors[(key, str(status))] += 1
                if status < 500 and status != 429:
                    return status, answer
            tries += 1
            if tries >= retry.attempts:
                return None, None
            await asyncio.sleep(retry.delay(tries - 1, self.rng))

    async def run_trial(self, assignment: dict[str, Any]) -> None:
        """Train (sleep) the trial's epochs while reporting and heartbeating; complete it, or
        give it back at the deadline."""
        trial_id = assignment["trial_id"]
        token = assignment["lease_token"]
        attempt = Attempt(trial_id, assignment["attempt"], self.name)
        self.result.attempts.append(attempt)
        trial = Trial(self, trial_id, token, float(assignment["heartbeat_interval"]), attempt)
        await trial.run()


class Trial:
    """One claimed trial: the sleeping "engine" and the session loop that talks for it."""

    def __init__(self, worker: SimWorker, trial_id: int, token: str, interval: float,
                 attempt: Attempt) -> None:
        self.w = worker
        self.path = f"/trials/{trial_id}"
        self.token = token
        self.interval = interval
        self.attempt = attempt
        self.queued: list[tuple[int, dict[str, float]]] = []
        self.new_epoch = asyncio.Event()
        self.accuracy = worker.rng.uniform(0.3, 0.6)
        self.started = time.monotonic()

    async def train(self) -> None:
        low, high = self.w.config.epoch_seconds
        for epoch in range(self.w.config.epochs):
            await asyncio.sleep(self.w.rng.uniform(low, high))
            self.accuracy = min(1.0, self.accuracy + self.w.rng.uniform(0, 0.05))
            loss = 1.0 - self.accuracy
            self.queued.append((epoch, {
                "train_loss": loss, "dev_loss": loss, "dev_accuracy": self.accuracy,
                "learning_rate": 0.01, "seconds": high}))
            self.new_epoch.set()

    async def run(self) -> None:
        engine = asyncio.create_task(self.train())
        try:
            if await self.session(engine):
                await self.complete()
        finally:
            engine.cancel()

    async def session(self, engine: asyncio.Task) -> bool:
        """Report and heartbeat until the engine is done or the server says stop (True:
        complete it), or the trial is gone: lost, or given back at the deadline (False)."""
        last_contact = last_heartbeat = time.monotonic()
        batch: list[tuple[int, dict[str, float]]] = []
        while True:
            if self.w.clock.over():
                await self.give_back()
                return False
            if not batch and self.queued:
                batch, self.queued = self.queued[:MAX_BATCH], self.queued[MAX_BATCH:]
            if batch:
                epochs = {epoch for epoch, _ in batch}
                self.attempt.unsure |= epochs
                status, answer = await self.w.call("report", f"{self.path}/report", {
                    "lease_token": self.token,
                    "reports": [{"epoch": epoch, "metrics": metrics} for epoch, metrics in batch]})
                if status is None:
                    continue  # unreachable: send the same batch again
                if status == 200:
                    self.attempt.acked |= epochs
                    self.attempt.unsure -= epochs
                    self.w.result.batch_sizes[len(batch)] += 1
                    last_contact = time.monotonic()
                elif status == 409:
                    self.attempt.lost = True
                    return False
                batch = []  # another 4xx drops the batch, as the worker's session does
                if status == 200 and answer.get("action") != "continue":
                    return True  # told to stop: it ends with what it reached
                continue
            if engine.done() and not self.queued:
                return True
            since = last_heartbeat if self.w.config.heartbeats == "interval" else last_contact
            due = since + self.interval
            if time.monotonic() >= due:
                status, answer = await self.w.call("heartbeat", f"{self.path}/heartbeat",
                                                   {"lease_token": self.token})
                if status == 409:
                    self.attempt.lost = True
                    return False
                last_heartbeat = time.monotonic()
                if status == 200:
                    last_contact = last_heartbeat
                    if answer.get("action") != "continue":
                        return True
                continue
            wait = min(due - time.monotonic(), self.w.clock.left())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.new_epoch.wait(), max(0.0, wait))
            self.new_epoch.clear()

    async def complete(self) -> None:
        """Send the result until it is accepted or the lease is gone (the runner's delivery);
        past the deadline, one round of tries only."""
        metrics = {"dev_accuracy": self.accuracy, "dev_loss": 1.0 - self.accuracy,
                   "train_accuracy": self.accuracy, "epochs": len(self.attempt.acked),
                   "seconds": time.monotonic() - self.started, "samples_per_second": 1000.0}
        while True:
            status, _ = await self.w.call("complete", f"{self.path}/complete",
                                          {"lease_token": self.token, "metrics": metrics})
            if status == 200:
                self.attempt.completed = True
                return
            if status == 409:
                self.attempt.lost = True
                return
            if status is not None or self.w.clock.over():
                return

    async def give_back(self) -> None:
        status, _ = await self.w.call("fail", f"{self.path}/fail", {
            "lease_token": self.token, "error": SHUTDOWN_ERROR, "retry": True},
            retry=GIVE_BACK_RETRY)
        self.attempt.given_back = status == 200
        self.attempt.lost = status == 409


async def watch_loop_lag(clock: Clock, lags: array, every: float = 0.1) -> None:
    """Record how late the event loop wakes up (ms): a busy client inflates latencies."""
    while not clock.over():
        began = time.monotonic()
        await asyncio.sleep(every)
        lags.append((time.monotonic() - began - every) * 1e3)


async def simulate(config: SimConfig, names: list[str]) -> ClientResult:
    """Run the named simulated workers for the duration, from now."""
    result = ClientResult(workers=len(names))
    clock = Clock(time.monotonic(), config.duration)
    result.start = clock.start
    cpu = time.process_time()
    workers = [SimWorker(config, name, config.seed * 1_000_003 + number, clock, result)
               for number, name in enumerate(names)]
    tasks = [asyncio.create_task(worker.run()) for worker in workers]
    lag = asyncio.create_task(watch_loop_lag(clock, result.loop_lag_ms))
    limit = config.duration + config.ramp + HARD_MARGIN
    try:
        await asyncio.wait_for(asyncio.gather(*tasks, lag), limit)
    finally:
        result.cpu_seconds = time.process_time() - cpu
    return result


def run_loop(main: Coroutine[Any, Any, ClientResult]) -> ClientResult:
    """Run on uvloop if it is installed (the server's event loop: less CPU per call)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def raise_file_limit() -> int:
    """Raise this process's open-file limit to its hard limit (a connection per simulated
    worker); the new soft limit."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def client_process(config: SimConfig, names: list[str], ready: Any, results: Any) -> None:
    """A client process's entry point: once every client process is `ready` (a barrier),
    simulate; put its ClientResult, or its traceback, on `results`."""
    try:
        if raise_file_limit() < len(names) + 64:
            raise RuntimeError(f"RLIMIT_NOFILE's hard limit is below {len(names) + 64}: "
                               "raise it (ulimit -Hn) to simulate this many workers")
        ready.wait(120)
        results.put(run_loop(simulate(config, names)))
    except BaseException:  # noqa: BLE001 - hand the traceback to the parent, which raises it
        results.put(traceback.format_exc())
