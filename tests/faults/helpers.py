"""What the fault tests share: a small search with trials long enough to catch in flight,
short leases, and probes of what the server answers while a fault lasts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select

from service.store.tables import INTERMEDIATE, TRIALS
from tests.e2e.helpers import moons_spec, running_trial, wait_for
from worker.client import CaviarClient

EPOCHS = 12
DB_TIMEOUT = 1.5


def fault_env(lease_seconds: float) -> dict[str, str]:
    """The server's settings: the given lease, a heartbeat a third of it at most, a quick
    sweep of expired leases, and a short database timeout."""
    return {"CAVIAR_LEASE_SECONDS": str(lease_seconds),
            "CAVIAR_HEARTBEAT_SECONDS": str(min(1.0, lease_seconds / 3)),
            "CAVIAR_REQUEUE_SECONDS": "0.5",
            "CAVIAR_DB_TIMEOUT_SECONDS": str(DB_TIMEOUT)}


def fault_spec(name: str, max_trials: int = 6) -> dict[str, Any]:
    """Trials of EPOCHS epochs of some tens of milliseconds each, two at a time."""
    return moons_spec(name, max_trials=max_trials, epochs=EPOCHS, n_samples=2000,
                      batch_size=8, max_parallel=2)


def wait_mid_search(client: CaviarClient, search_id: int) -> dict[str, Any]:
    """Wait until a trial has completed and another is in flight past its first epoch;
    return the one in flight."""
    wait_for("a first trial to complete",
             lambda: client.get_search(search_id)["counts"]["completed"] >= 1, timeout=60)
    return wait_for("a trial in flight", lambda: running_trial(client, search_id, 1),
                    timeout=60)


def stored_trials(database_url: str, search_id: int) -> list[dict[str, Any]]:
    """The search's trials as stored (id, number, status, attempt) with their count of
    epoch rows (`epochs`), read from the database itself, by number."""
    epochs = (select(func.count()).where(INTERMEDIATE.c.trial_id == TRIALS.c.id)
              .scalar_subquery().label("epochs"))
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(TRIALS.c.id, TRIALS.c.number, TRIALS.c.status, TRIALS.c.attempt, epochs)
                .where(TRIALS.c.search_id == search_id).order_by(TRIALS.c.number)).mappings()
            return [dict(row) for row in rows]
    finally:
        engine.dispose()


@dataclass
class Answer:
    """One answer seen while a fault lasted: what was asked, the status, the JSON, the time."""

    path: str
    status: int
    body: Any
    seconds: float


@dataclass
class Probe:
    """Asks the server the same questions again and again while a fault lasts."""

    url: str
    paths: tuple[str, ...]
    answers: list[Answer] = field(default_factory=list)

    def ask(self, timeout: float = 20) -> None:
        """Ask each path once; an answer that is not JSON is kept as its text."""
        for path in self.paths:
            response = httpx.get(self.url + path, timeout=timeout)
            try:
                body = response.json()
            except ValueError:
                body = response.text
            self.answers.append(Answer(path, response.status_code, body,
                                       response.elapsed.total_seconds()))

    def statuses(self, path: str) -> list[int]:
        return [answer.status for answer in self.answers if answer.path == path]

    def of(self, path: str, status: int) -> list[Answer]:
        return [a for a in self.answers if a.path == path and a.status == status]
