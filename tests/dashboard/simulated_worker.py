"""A worker simulated over HTTP (claim, report, complete) with made-up learning curves.

It speaks the worker protocol of docs/api.md through httpx, so the dashboard
tests and the benchmark drive the real server exactly as a worker would,
without training anything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import httpx


def final_accuracy(params: dict[str, Any]) -> float:
    """A smooth, deterministic objective: best near learning_rate = 10^-2.5, beta1 near 1."""
    accuracy = 0.97
    if "learning_rate" in params:
        accuracy -= 0.05 * (math.log10(params["learning_rate"]) + 2.5) ** 2
    if "beta1" in params:
        accuracy -= 0.3 * (1.0 - params["beta1"])
    return max(0.05, min(0.99, accuracy))


def epoch_metrics(params: dict[str, Any], epoch: int) -> dict[str, float]:
    """The report of one epoch (counted from 0) of a trial with these params."""
    progress = 1.0 - math.exp(-(epoch + 1) / 4)
    return {
        "train_loss": 2.0 * math.exp(-epoch / 5) + 0.05,
        "dev_loss": 2.0 * math.exp(-epoch / 6) + 1.0 - final_accuracy(params),
        "dev_accuracy": final_accuracy(params) * progress,
        "learning_rate": float(params.get("learning_rate", 0.01)),
        "seconds": 0.25,
    }


@dataclass
class Claimed:
    """A trial this worker holds: its assignment and the epochs it reported."""

    assignment: dict[str, Any]
    epochs: int = 0

    @property
    def id(self) -> int:
        return self.assignment["trial_id"]


class SimulatedWorker:
    """One worker identity talking to a live server."""

    def __init__(self, base_url: str, worker_id: str = "sim/1") -> None:
        self.http = httpx.Client(base_url=f"{base_url}/api/v1", timeout=30)
        self.worker_id = worker_id

    def close(self) -> None:
        self.http.close()

    def claim(self, search_id: int) -> Claimed | None:
        """Claim a trial of the search; None when the server has no work (204)."""
        answer = self.http.post("/trials/claim",
                                json={"worker_id": self.worker_id, "search_id": search_id})
        answer.raise_for_status()
        return None if answer.status_code == 204 else Claimed(answer.json())

    def report(self, trial: Claimed) -> dict[str, Any]:
        """Report the next epoch; returns the server's {action, reason}."""
        metrics = epoch_metrics(trial.assignment["params"], trial.epochs)
        answer = self.http.post(f"/trials/{trial.id}/report", json={
            "lease_token": trial.assignment["lease_token"], "epoch": trial.epochs,
            "metrics": metrics,
        })
        answer.raise_for_status()
        trial.epochs += 1
        return answer.json()

    def heartbeat(self, trial: Claimed) -> dict[str, Any]:
        answer = self.http.post(f"/trials/{trial.id}/heartbeat",
                                json={"lease_token": trial.assignment["lease_token"]})
        answer.raise_for_status()
        return answer.json()

    def complete(self, trial: Claimed) -> dict[str, Any]:
        """Finish the trial with the metrics of its last reported epoch."""
        last = epoch_metrics(trial.assignment["params"], max(0, trial.epochs - 1))
        answer = self.http.post(f"/trials/{trial.id}/complete", json={
            "lease_token": trial.assignment["lease_token"],
            "metrics": {"dev_accuracy": last["dev_accuracy"], "dev_loss": last["dev_loss"],
                        "train_accuracy": last["dev_accuracy"], "epochs": trial.epochs,
                        "seconds": 0.25 * trial.epochs, "samples_per_second": 1000.0},
        })
        answer.raise_for_status()
        return answer.json()

    def run(self, trial: Claimed, epochs: int) -> dict[str, Any]:
        """Report epochs until done or told to stop, then complete; returns the trial."""
        for _ in range(epochs):
            if self.report(trial)["action"] == "stop":
                break
        return self.complete(trial)

    def run_trials(self, search_id: int, count: int, epochs: int) -> list[dict[str, Any]]:
        """Claim and run up to `count` trials one after the other."""
        done = []
        for _ in range(count):
            trial = self.claim(search_id)
            if trial is None:
                break
            done.append(self.run(trial, epochs))
        return done
