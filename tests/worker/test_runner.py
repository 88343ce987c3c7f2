"""The worker loop in this process against a real server: results, failures, stops, data."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
from pathlib import Path

import pytest

from tests.e2e.helpers import all_trials, moons_spec, running_trial, wait_for
from worker import runner as runner_module
from worker.cache import DataCache
from worker.client import CaviarClient
from worker.datasets import DatasetError
from worker.nn.train import EpochReport
from worker.runner import Runner, RunnerOptions

pytestmark = pytest.mark.timeout(120)
IRIS = Path(__file__).resolve().parents[2] / "examples" / "data" / "iris.csv"


def make_runner(client: CaviarClient, tmp_path: Path, search_id: int,
                poll_seconds: float = 0.1, **options) -> tuple[Runner, io.StringIO]:
    out = io.StringIO()
    log = logging.getLogger(f"test-runner-{tmp_path.name}")
    log.handlers[:] = [logging.StreamHandler(out)]
    log.setLevel(logging.INFO)
    log.propagate = False
    runner = Runner(client, RunnerOptions(worker_id="test/1", search_id=search_id,
                                          poll_seconds=poll_seconds, **options),
                    cache=DataCache(client, tmp_path / "cache"), log=log)
    return runner, out


def test_trials_complete_and_the_time_split_is_measured(client, tmp_path):
    search = client.create_search(moons_spec("runner-ok", 3, 4))
    runner, out = make_runner(client, tmp_path, search["id"], max_trials=3)
    assert runner.run() == 0
    trials = all_trials(client, search["id"])
    assert [t["status"] for t in trials] == ["completed"] * 3
    assert all(t["worker_id"] == "test/1" for t in trials)
    assert runner.times.trials == 3
    assert runner.times.training > 0 and runner.times.overhead > 0
    assert 0 < runner.times.training_fraction < 1
    stats = json.loads(out.getvalue().split("stats: ")[1].splitlines()[0])
    assert stats["trials"] == 3 and stats["training_fraction"] == runner.times.training_fraction
    assert out.getvalue().count(" claimed") == 3 and out.getvalue().count(" finished") == 3


def test_the_next_trial_is_claimed_as_soon_as_the_previous_outcome_frees_a_slot(
        client, tmp_path):
    # One trial at a time: each claim may come before the previous outcome is stored.
    search = client.create_search(moons_spec("runner-serial", 3, 2, max_parallel=1))
    runner, _ = make_runner(client, tmp_path, search["id"], poll_seconds=30, max_trials=3)
    assert runner.run() == 0
    assert [t["status"] for t in all_trials(client, search["id"])] == ["completed"] * 3
    assert runner.times.idle < 5, "the runner polled instead of waiting for its outcome"


def test_a_crash_is_reported_with_its_type_message_and_epoch_and_the_loop_goes_on(
        client, tmp_path, monkeypatch):
    real_train = runner_module.train
    calls = []

    def crashing_train(config, X_train, y_train, X_dev, y_dev, on_epoch=None, on_batch=None,
                       resume=None):
        calls.append(1)
        if len(calls) > 1:
            return real_train(config, X_train, y_train, X_dev, y_dev, on_epoch=on_epoch,
                              on_batch=on_batch, resume=resume)
        for epoch in range(2):
            on_epoch(EpochReport(epoch, 0.5, 0.5, 0.5, 0.01, 0.01))
        raise ValueError("boom")

    monkeypatch.setattr(runner_module, "train", crashing_train)
    search = client.create_search(moons_spec("runner-crash", 2, 3))
    runner, out = make_runner(client, tmp_path, search["id"], max_trials=2)
    assert runner.run() == 0
    crashed, healthy = all_trials(client, search["id"])
    assert crashed["status"] == "failed"
    assert crashed["error"] == "ValueError: boom (epoch 2)"
    assert crashed["last_epoch"] == 1
    assert healthy["status"] == "completed"
    assert "failed: ValueError: boom (epoch 2)" in out.getvalue()


def test_a_stop_from_the_server_ends_the_trial_at_once(client, tmp_path):
    spec = moons_spec("runner-stop", 1, 200, n_samples=2000, batch_size=8)
    search = client.create_search(spec)
    runner, out = make_runner(client, tmp_path, search["id"], max_trials=1)
    thread = threading.Thread(target=runner.run)
    thread.start()
    try:
        trial = wait_for("the trial mid-way", lambda: running_trial(client, search["id"], 1))
        client.stop_trial(trial["id"])
        thread.join(30)
    finally:
        runner.request_shutdown()
        thread.join()
    stopped = client.get_trial(trial["id"])
    assert stopped["status"] == "completed" and stopped["stop_reason"] == "stopped by user"
    assert stopped["last_epoch"] < 30
    assert stopped["metrics"]["epochs"] == stopped["last_epoch"] + 1
    assert "(stopped by user)" in out.getvalue()


def test_shutdown_gives_the_running_trial_back(client, tmp_path):
    spec = moons_spec("runner-shutdown", 1, 200, n_samples=2000, batch_size=8)
    search = client.create_search(spec)
    runner, out = make_runner(client, tmp_path, search["id"])
    thread = threading.Thread(target=runner.run)
    thread.start()
    trial = wait_for("the trial mid-way", lambda: running_trial(client, search["id"], 1))
    runner.request_shutdown()
    thread.join(30)
    assert not thread.is_alive()
    back = client.get_trial(trial["id"])
    assert back["status"] == "pending" and back["attempt"] == 2
    assert "given back: worker shutting down" in out.getvalue()


def test_an_uploaded_dataset_is_downloaded_once_and_cached_by_sha256(client, tmp_path):
    content = IRIS.read_bytes()
    uploaded = client.upload_dataset("iris.csv", content, label_column="species")
    spec = moons_spec("runner-upload", 2, 3)
    spec["dataset"] = {"id": uploaded["id"]}
    search = client.create_search(spec)
    runner, _ = make_runner(client, tmp_path, search["id"], max_trials=2)
    assert runner.run() == 0
    assert [t["status"] for t in all_trials(client, search["id"])] == ["completed"] * 2
    cached = tmp_path / "cache" / "datasets" / f"{uploaded['sha256']}.csv"
    assert cached.read_bytes() == content
    assert hashlib.sha256(content).hexdigest() == uploaded["sha256"]
    offline = DataCache(CaviarClient("http://127.0.0.1:9"), tmp_path / "cache")
    assert offline.fetch(uploaded["sha256"], "csv", "/unreachable") == content, \
        "a cached file is not downloaded again"


def test_the_cache_verifies_what_it_reads_and_what_it_downloads(client, tmp_path):
    content = IRIS.read_bytes()
    uploaded = client.upload_dataset("iris.csv", content, label_column="species")
    url = f"/api/v1/datasets/{uploaded['id']}/data"
    cache = DataCache(client, tmp_path)
    path = cache.path_for(uploaded["sha256"], "csv")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"tampered")
    assert cache.fetch(uploaded["sha256"], "csv", url) == content, "a bad cached file is replaced"
    assert path.read_bytes() == content
    wrong = "0" * 64
    with pytest.raises(DatasetError, match=f"sha256 is {uploaded['sha256']}, the server "
                                           f"announced {wrong}"):
        cache.fetch(wrong, "csv", url)
    assert not cache.path_for(wrong, "csv").exists()
