"""Promotion-based ASHA end to end: real server and worker processes pause trials at rungs,
upload their checkpoints, and resume them on promotion; a resumed trial's epochs are the
epochs of the same trial trained without a break, bit for bit."""

from __future__ import annotations

import hashlib
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest

from domain.lifecycle.states import SearchStatus, TrialStatus
from domain.protocol import BuiltinDatasetRef
from domain.training import TrainingConfig
from tests.e2e.helpers import all_trials, moons_spec, search_status, wait_for, workers
from tests.support.processes import live_server
from worker.cache import DataCache
from worker.client import CaviarClient
from worker.nn.train import EpochReport, train

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def asha_spec(name: str, max_trials: int, max_parallel: int = 2) -> dict[str, Any]:
    spec = moons_spec(name, max_trials=max_trials, epochs=9, max_parallel=max_parallel,
                      early_stopping={"kind": "asha", "eta": 3, "min_epochs": 1,
                                      "resume": True})
    spec["parameters"]["learning_rate"] = {"type": "float", "low": 1e-4, "high": 0.3,
                                           "scale": "log"}
    return spec


def uninterrupted(client: CaviarClient, spec: dict[str, Any], params: dict[str, Any]
                  ) -> list[dict[str, float | None]]:
    """Every epoch's reported metrics of the trial trained here without a break."""
    data = DataCache(client).split(BuiltinDatasetRef(kind="builtin", **spec["dataset"]),
                                   spec["split"])
    reports: list[EpochReport] = []
    train(TrainingConfig.from_dict({**spec["fixed"], **params}), data.X_train, data.y_train,
          data.X_dev, data.y_dev, on_epoch=reports.append)
    return [{k: v for k, v in r.as_dict().items() if k != "seconds"} for r in reports]


def test_a_paused_trial_resumes_where_it_stopped(db_url, tmp_path):
    """One trial at a time, in grid order: #0 learns fast and goes on; #1 is second at the
    first rung and pauses; #2..#5 learn nothing, and once six values share the rung #1 is
    in its top third: promoted, it resumes from its checkpoint on a worker."""
    spec = asha_spec("resume", max_trials=6, max_parallel=1)
    spec["sampler"] = {"kind": "grid"}
    spec["parameters"] = {"learning_rate": {"type": "choice", "values": [
        0.05, 0.003, 1e-6, 2e-6, 3e-6, 4e-6]}}
    with live_server(db_url, tmp_path) as server, workers(tmp_path) as fleet, \
            CaviarClient(server.url) as client:
        search = client.create_search(spec)
        pair = [fleet.start(server.url, "--idle-exit", "3") for _ in range(2)]
        wait_for("the search to complete",
                 lambda: search_status(client, search["id"]) == SearchStatus.COMPLETED,
                 timeout=240)
        trials = {t["number"]: t for t in all_trials(client, search["id"])}
        second = client.get_trial(trials[1]["id"])
        best = client.get_search(search["id"])["best_trial"]
        logs = "".join(worker.text() for worker in pair)
        expected = uninterrupted(client, spec, second["params"])
    assert f"trial {second['id']} paused after 1 epochs" in logs, logs
    assert f"trial {second['id']} resumes from its checkpoint after 1 epochs" in logs, logs
    epochs = [{k: v for k, v in row.items() if k not in ("epoch", "seconds")}
              for row in second["intermediate"]]
    assert len(epochs) > 1 and epochs == expected[:len(epochs)]
    assert second["attempt"] == 1
    assert {t["status"] for t in trials.values()} <= {TrialStatus.COMPLETED, TrialStatus.PRUNED}
    kept = [t["id"] for t in trials.values() if t["checkpoint_epoch"] is not None]
    assert set(kept) <= {best["id"]}, "only the best trial keeps its checkpoint"


def _upload_and_vanish(url: str, trial: dict[str, Any], epoch: int, size: int) -> None:
    """Start a checkpoint upload announcing `size` bytes, send half, and drop the connection:
    a worker killed while uploading."""
    parts = urlsplit(url)
    query = (f"lease_token={trial['lease_token']}&epoch={epoch}"
             f"&sha256={hashlib.sha256(b'x' * size).hexdigest()}")
    with socket.create_connection((parts.hostname, parts.port)) as connection:
        connection.sendall(
            f"PUT /api/v1/trials/{trial['trial_id']}/checkpoint?{query} HTTP/1.1\r\n"
            f"Host: {parts.netloc}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {size}\r\n\r\n".encode() + b"x" * (size // 2))


def test_a_worker_killed_while_uploading_loses_nothing(db_url, tmp_path):
    lease = {"CAVIAR_LEASE_SECONDS": "2", "CAVIAR_HEARTBEAT_SECONDS": "0.5",
             "CAVIAR_REQUEUE_SECONDS": "0.3"}
    spec = asha_spec("killed-uploading", max_trials=3)
    with live_server(db_url, tmp_path, env=lease) as server, workers(tmp_path) as fleet, \
            CaviarClient(server.url) as client:
        search = client.create_search(spec)
        first = client.claim("w/first", search["id"])
        second = client.claim("w/doomed", search["id"])
        assert first is not None and second is not None
        client.report(first.trial_id, first.lease_token, 0, {"dev_accuracy": 0.9})
        told = client.report(second.trial_id, second.lease_token, 0, {"dev_accuracy": 0.1})
        assert told.pause
        _upload_and_vanish(server.url, second.model_dump(), 1, 4096)
        wait_for("the trial back in pending, from its start", lambda: client.get_trial(
            second.trial_id)["status"] == TrialStatus.PENDING, timeout=20)
        again = client.get_trial(second.trial_id)
        assert again["attempt"] == 2 and again["last_epoch"] is None and again["rung"] is None
        assert again["checkpoint_epoch"] is None and again["intermediate"] == []
        fleet.start(server.url, "--idle-exit", "3")
        wait_for("the search to complete",
                 lambda: search_status(client, search["id"]) == SearchStatus.COMPLETED,
                 timeout=180)
        trials = all_trials(client, search["id"])
    assert sorted(t["number"] for t in trials) == [0, 1, 2]
    assert {t["status"] for t in trials} <= {TrialStatus.COMPLETED, TrialStatus.PRUNED}
    done = next(t for t in trials if t["id"] == second.trial_id)
    assert done["attempt"] == 2
