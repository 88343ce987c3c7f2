"""Real `caviar worker` processes and small search specs for the end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from worker.client import CaviarClient

T = TypeVar("T")


def wait_for(what: str, check: Callable[[], T], timeout: float = 60,
             every: float = 0.1) -> T:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


@dataclass
class WorkerProcess:
    """A running `caviar worker` with its log file."""

    process: subprocess.Popen
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout: float = 30) -> int:
        return self.process.wait(timeout)


@dataclass
class Workers:
    """Starts worker processes and makes sure none outlives the test."""

    folder: Path
    started: list[WorkerProcess] = field(default_factory=list)

    def start(self, server_url: str, *args: str, env: dict[str, str] | None = None,
              prefix: Sequence[str] = ()) -> WorkerProcess:
        """Start `caviar worker`; `prefix` runs it through a wrapper (`ip netns exec NAME`)."""
        log = self.folder / f"worker-{len(self.started)}-{time.monotonic_ns()}.log"
        process = subprocess.Popen(
            [*prefix, sys.executable, "-m", "caviar", "worker", "--server", server_url, *args],
            stdout=log.open("w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, "CAVIAR_CACHE_DIR": str(self.folder / "cache"), **(env or {})},
        )
        worker = WorkerProcess(process, log)
        self.started.append(worker)
        return worker

    def stop_all(self) -> None:
        for worker in self.started:
            if worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)
        for worker in self.started:
            try:
                worker.process.wait(15)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()


@contextmanager
def workers(folder: Path) -> Iterator[Workers]:
    fleet = Workers(folder)
    try:
        yield fleet
    finally:
        fleet.stop_all()


def moons_spec(name: str, max_trials: int, epochs: int, *, n_samples: int = 300,
               batch_size: int = 32, max_parallel: int = 4, **extra: Any) -> dict[str, Any]:
    """A small random search on moons; bigger n_samples or smaller batches make epochs slower."""
    spec: dict[str, Any] = {
        "name": name,
        "dataset": {"name": "moons", "options": {"n_samples": n_samples, "noise": 0.2,
                                                 "seed": 0}},
        "split": {"dev": 0.2, "test": 0.2, "seed": 0},
        "budget": {"max_trials": max_trials, "max_parallel": max_parallel},
        "sampler": {"kind": "random", "seed": 0},
        "early_stopping": {"kind": "none"},
        "parameters": {
            "learning_rate": {"type": "float", "low": 1e-3, "high": 0.1, "scale": "log"},
            "hidden_units": {"type": "int", "low": 4, "high": 16},
        },
        "fixed": {"optimizer": "adam", "epochs": epochs, "batch_size": batch_size},
    }
    spec.update(extra)
    return spec


def all_trials(client: CaviarClient, search_id: int) -> list[dict[str, Any]]:
    return client.list_trials(search_id)["items"]


def search_status(client: CaviarClient, search_id: int) -> str:
    return client.get_search(search_id)["status"]


def running_trial(client: CaviarClient, search_id: int, min_epoch: int = 0
                  ) -> dict[str, Any] | None:
    """A running trial that has reported at least `min_epoch`, or None."""
    for trial in client.list_trials(search_id, status="running")["items"]:
        if trial.get("last_epoch") is not None and trial["last_epoch"] >= min_epoch:
            return trial
    return None


def running_mid_way(client: CaviarClient, search_id: int, count: int, min_epoch: int = 2
                    ) -> list[dict[str, Any]] | None:
    """The search's running trials once `count` of them have reported at least `min_epoch`,
    or None."""
    trials = client.list_trials(search_id, status="running")["items"]
    mid_way = [t for t in trials if (t.get("last_epoch") or 0) >= min_epoch]
    return mid_way if len(mid_way) == count else None
