"""Server + 2 workers complete a 12-trial search; every trial once; results reproducible."""

from __future__ import annotations

import math

import pytest

from domain.protocol import BuiltinDatasetRef
from domain.training import TrainingConfig
from tests.e2e.helpers import all_trials, moons_spec, search_status, wait_for, workers
from tests.support.processes import live_server
from worker.cache import DataCache
from worker.client import CaviarClient
from worker.nn.train import train

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def test_two_workers_complete_a_12_trial_search(db_url, tmp_path):
    spec = moons_spec("twelve", max_trials=12, epochs=6)
    with live_server(db_url, tmp_path) as server, workers(tmp_path) as fleet, \
            CaviarClient(server.url) as client:
        first = fleet.start(server.url, "--worker-id", "alpha")
        second = fleet.start(server.url, "--worker-id", "beta")
        search = client.create_search(spec)
        wait_for("the search to complete",
                 lambda: search_status(client, search["id"]) == "completed", timeout=120)
        trials = all_trials(client, search["id"])
        final = client.get_search(search["id"])
        details = [client.get_trial(t["id"]) for t in trials]
        fleet.stop_all()
        assert first.process.returncode == 0 and second.process.returncode == 0

    assert sorted(t["number"] for t in trials) == list(range(12))
    assert all(t["status"] == "completed" and t["attempt"] == 1 for t in trials)
    assert final["counts"]["completed"] == 12 and final["counts"]["running"] == 0
    assert {t["worker_id"] for t in trials} <= {"alpha", "beta"}
    for trial in details:
        assert [row["epoch"] for row in trial["intermediate"]] == list(range(6))
        assert trial["metrics"]["epochs"] == 6
    best = max(trials, key=lambda t: t["value"])
    assert final["best_trial"]["number"] == best["number"]
    logs = first.text() + second.text()
    assert logs.count(" claimed") == 12 and logs.count(" finished") == 12

    # Results are what the workers trained: retrain two trials here, same seed, same split.
    for trial in (details[0], details[-1]):
        data = DataCache(CaviarClient(server.url)).split(
            BuiltinDatasetRef(kind="builtin", name="moons", options=spec["dataset"]["options"]),
            spec["split"])
        config = TrainingConfig.from_dict({**spec["fixed"], **trial["params"]})
        result = train(config, data.X_train, data.y_train, data.X_dev, data.y_dev)
        assert result.dev_accuracy == trial["metrics"]["dev_accuracy"]
        assert math.isclose(result.dev_loss, trial["metrics"]["dev_loss"], rel_tol=1e-6)
        assert math.isclose(result.train_accuracy, trial["metrics"]["train_accuracy"],
                            rel_tol=1e-6)
