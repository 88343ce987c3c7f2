"""`caviar submit`, `caviar status`, `caviar cancel`: the real console script against a server."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.helpers import moons_spec, workers
from tests.support.databases import sqlite_url
from tests.support.processes import Server, free_port, live_server
from worker.client import CaviarClient

CAVIAR = str(Path(sys.executable).parent / "caviar")

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("cli-server")
    with live_server(sqlite_url(folder), folder) as running:
        yield running


def caviar(*args: str, env: dict[str, str] | None = None, timeout: float = 120
           ) -> subprocess.CompletedProcess:
    return subprocess.run([CAVIAR, *args], capture_output=True, text=True, timeout=timeout,
                          env=env, stdin=subprocess.DEVNULL)


def write_spec(folder: Path, spec: dict) -> Path:
    path = folder / f"{spec['name']}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_submit_prints_the_new_search_id(server, tmp_path):
    done = caviar("submit", str(write_spec(tmp_path, moons_spec("cli-submit", 3, 2))),
                  "--server", server.url)
    assert done.returncode == 0, done.stderr
    search_id = int(done.stdout.strip())
    with CaviarClient(server.url) as client:
        assert client.get_search(search_id)["name"] == "cli-submit"


def test_submit_reads_the_server_from_caviar_server(server, tmp_path):
    import os

    env = {**os.environ, "CAVIAR_SERVER": server.url}
    done = caviar("submit", str(write_spec(tmp_path, moons_spec("cli-env", 2, 2))), env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().isdigit()


def test_a_rejected_spec_prints_one_line_per_error_naming_the_field(server, tmp_path):
    spec = moons_spec("cli-bad", 3, 2)
    spec["budget"]["max_trials"] = 0
    spec["objective"] = {"metric": "dev_accuracy", "goal": "maximise"}
    done = caviar("submit", str(write_spec(tmp_path, spec)), "--server", server.url)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) >= 2, done.stderr
    assert all(line.startswith("caviar submit: error: ") for line in lines)
    assert any("budget.max_trials" in line for line in lines), done.stderr
    assert any("objective.goal" in line for line in lines), done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_a_rule_error_names_the_field(server, tmp_path):
    spec = moons_spec("cli-rule", 3, 2)
    spec["parameters"]["learning_rate"]["low"] = -1.0
    done = caviar("submit", str(write_spec(tmp_path, spec)), "--server", server.url)
    assert done.returncode == 2
    assert done.stderr.startswith("caviar submit: error: parameters.learning_rate.low: ")


def test_a_spec_valid_here_is_sent_and_the_servers_422_shown(server, tmp_path):
    spec = moons_spec("cli-no-dataset", 3, 2)
    spec["dataset"] = {"id": 99999}
    done = caviar("submit", str(write_spec(tmp_path, spec)), "--server", server.url)
    assert done.returncode == 2
    assert done.stderr == "caviar submit: error: dataset.id: no uploaded dataset has id 99999\n"


@pytest.mark.parametrize("content, message", [
    ("name: [unclosed\n", "is not valid YAML at line"),
    ("- just\n- a list\n", "must hold a mapping"),
])
def test_a_spec_file_that_is_not_a_mapping_is_exit_2(server, tmp_path, content, message):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    done = caviar("submit", str(path), "--server", server.url)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_missing_spec_file_is_exit_2(server, tmp_path):
    done = caviar("submit", str(tmp_path / "nope.yaml"), "--server", server.url)
    assert done.returncode == 2
    assert "cannot read" in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("command", [["status"], ["status", "1"], ["cancel", "1"], ["submit"]])
def test_an_unreachable_server_is_one_line_and_non_zero(tmp_path, command):
    url = f"http://127.0.0.1:{free_port()}"
    if command == ["submit"]:
        command = ["submit", str(write_spec(tmp_path, moons_spec("x", 2, 2)))]
    done = caviar(*command, "--server", url)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert f"server {url} unreachable" in done.stderr


def test_status_lists_searches_and_shows_one(server, tmp_path):
    done = caviar("submit", str(write_spec(tmp_path, moons_spec("cli-status", 2, 2))),
                  "--server", server.url)
    search_id = done.stdout.strip()
    listing = caviar("status", "--server", server.url)
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.splitlines()[0].split() == [
        "id", "name", "status", "done", "running", "best", "created"]
    assert any(line.split()[:3] == [search_id, "cli-status", "running"]
               for line in listing.stdout.splitlines())
    one = caviar("status", search_id, "--server", server.url)
    assert one.returncode == 0, one.stderr
    assert one.stdout.startswith(f"search {search_id} cli-status: running, 0/2 trials done")
    assert "no completed trials yet" in one.stdout


def test_status_of_an_unknown_search_says_so(server):
    done = caviar("status", "99999", "--server", server.url)
    assert done.returncode == 1
    assert done.stderr == "caviar status: error: search 99999 not found\n"


def test_cancel_cancels(server, tmp_path):
    search_id = caviar("submit", str(write_spec(tmp_path, moons_spec("cli-cancel", 5, 2))),
                       "--server", server.url).stdout.strip()
    done = caviar("cancel", search_id, "--server", server.url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"search {search_id} cli-cancel: cancelled")
    with CaviarClient(server.url) as client:
        assert client.get_search(int(search_id))["status"] == "cancelled"


def test_submit_watch_follows_the_search_to_its_leaderboard(server, tmp_path):
    spec = moons_spec("cli-watch", 4, 3)
    with workers(tmp_path) as fleet:
        fleet.start(server.url, "--idle-exit", "30")
        done = caviar("submit", str(write_spec(tmp_path, spec)), "--server", server.url,
                      "--watch")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    search_id = lines[0]
    assert search_id.isdigit()
    progress = [line for line in lines if line.startswith("[")]
    assert progress[-1].startswith("[" + "#" * 24 + "] 4/4 done, 0 running, best dev_accuracy")
    assert progress[-1].endswith("[completed]")
    header = next(i for i, line in enumerate(lines) if line.startswith("rank"))
    assert lines[header].split() == ["rank", "trial", "dev_accuracy", "epochs",
                                     "hidden_units", "learning_rate"]
    assert len(lines[header + 2:]) == 4
    ranks = [int(line.split()[0]) for line in lines[header + 2:]]
    values = [float(line.split()[2]) for line in lines[header + 2:]]
    assert ranks == [1, 2, 3, 4] and values == sorted(values, reverse=True)


@pytest.mark.parametrize("args, message", [
    (["worker", "--processes", "0"], "--processes: must be at least 1"),
    (["worker", "--max-trials", "0"], "--max-trials: must be at least 1"),
    (["worker", "--server", "ftp://x"], "--server: must be an http"),
    (["demo", "--workers", "0"], "--workers: must be at least 1"),
    (["status", "0"], "SEARCH: must be a search id"),
])
def test_bad_options_are_one_line_and_exit_2(args, message):
    done = caviar(*args)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_the_built_in_demo_spec_is_the_example_file():
    from caviar.commands._demo_spec import DEMO_SPEC_YAML

    example = Path(__file__).resolve().parents[2] / "examples" / "digits-adam-bn.yaml"
    assert example.read_text() == DEMO_SPEC_YAML


def test_every_example_spec_is_accepted_by_the_server(server):
    examples = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))
    assert len(examples) >= 4
    csv = Path(__file__).resolve().parents[2] / "examples" / "data" / "iris.csv"
    with CaviarClient(server.url) as client:
        uploaded = client.upload_dataset("iris.csv", csv.read_bytes(), name="iris",
                                         label_column="species")
        assert uploaded["n_samples"] == 150 and uploaded["n_classes"] == 3
        for path in examples:
            spec = yaml.safe_load(path.read_text())
            if isinstance(spec["dataset"], dict) and "id" in spec["dataset"]:
                spec["dataset"] = {"id": uploaded["id"]}
            created = client.create_search(spec)
            client.cancel_search(created["id"])


@pytest.mark.parametrize("inherited", ["default", "ignored"])
def test_ctrl_c_while_watching_leaves_the_search_running(server, tmp_path, inherited):
    """Also when started with SIGINT ignored, as a shell starts a background command
    without job control (and as a CI runner may start the tests)."""
    import signal

    from tests.e2e.helpers import wait_for

    disposition = signal.SIG_IGN if inherited == "ignored" else signal.SIG_DFL
    out = tmp_path / "watch.out"
    with out.open("w") as stdout:
        watching = subprocess.Popen(
            [CAVIAR, "submit", str(write_spec(tmp_path, moons_spec("cli-ctrl-c", 3, 2))),
             "--server", server.url, "--watch"],
            stdout=stdout, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
            preexec_fn=lambda: signal.signal(signal.SIGINT, disposition))
        wait_for("the progress line", lambda: "0/3 done" in out.read_text(), timeout=60)
        watching.send_signal(signal.SIGINT)
        _, stderr = watching.communicate(timeout=30)
    assert watching.returncode == 130
    search_id = int(out.read_text().splitlines()[0])
    assert f"search {search_id} keeps running" in stderr and "Traceback" not in stderr
    with CaviarClient(server.url) as client:
        assert client.get_search(search_id)["status"] == "running"
        client.cancel_search(search_id)
