"""`caviar retest` and `caviar status` with re-tests: the real console script against a server,
whose trials the test runs through the worker protocol (no training)."""

from __future__ import annotations

import statistics
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.helpers import moons_spec
from tests.support.databases import sqlite_url
from tests.support.processes import Server, free_port, live_server
from worker.client import CaviarClient

CAVIAR = str(Path(sys.executable).parent / "caviar")

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("retest-server")
    with live_server(sqlite_url(folder), folder) as running:
        yield running


def caviar(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CAVIAR, *args], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def completed_search(client: CaviarClient, name: str, *values: float) -> int:
    """A search whose trials completed with these dev accuracies, in number order."""
    search_id = client.create_search(moons_spec(name, len(values), 2))["id"]
    run_all(client, search_id, *values)
    return search_id


def run_all(client: CaviarClient, search_id: int, *values: float) -> None:
    """Claim and complete the search's next trials with these dev accuracies."""
    for value in values:
        assignment = client.claim("cli-test/1", search_id)
        assert assignment is not None
        client.complete(assignment.trial_id, assignment.lease_token, {"dev_accuracy": value})


def test_retest_prints_what_it_created_and_status_ranks_by_the_mean(server):
    with CaviarClient(server.url) as client:
        sid = completed_search(client, "cli-retest", 0.9, 0.8, 0.7)
        origins = {t["number"]: t for t in client.list_trials(sid)["items"]}
    done = caviar("retest", str(sid), "--top", "2", "--seeds", "2", "--server", server.url)
    assert done.returncode == 0, done.stderr
    header, *groups = done.stdout.splitlines()
    assert header == f"search {sid} cli-retest: running, max_trials 3 -> 7, 4 re-tests pending"
    assert [line.split(":")[0] for line in groups] == [
        f"  trial #{number} dev_accuracy {value} (hidden_units="
        f"{origins[number]['params']['hidden_units']}, learning_rate="
        f"{origins[number]['params']['learning_rate']:.4g})"
        for number, value in ((0, 0.9), (1, 0.8))]
    assert groups[0].split(": ")[1].startswith("#3 (seed ") and "#4 (seed " in groups[0]
    assert "#5 (seed " in groups[1] and "#6 (seed " in groups[1]

    plain = caviar("status", str(sid), "--server", server.url)
    assert plain.returncode == 0, plain.stderr
    assert "rank  trial  dev_accuracy  epochs" in plain.stdout  # no re-test completed yet

    with CaviarClient(server.url) as client:
        run_all(client, sid, 0.5, 0.6, 0.8, 0.82)
    shown = caviar("status", str(sid), "--server", server.url)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("rank"))
    assert lines[at].split()[:7] == ["rank", "trial", "runs", "dev_accuracy", "mean", "±", "std"]
    rows = [line.split() for line in lines[at + 2:]]
    # #1: 0.8, 0.8, 0.82; #2 never re-tested: 0.7; #0, the lucky one: 0.9, 0.5, 0.6.
    assert [row[:3] for row in rows] == [["1", "1", "3"], ["2", "2", "1"], ["3", "0", "3"]]
    best = [0.8, 0.8, 0.82]
    assert rows[0][3:6] == [f"{statistics.fmean(best):.4g}", "±",
                            f"{statistics.stdev(best):.4g}"]
    assert rows[1][3] == "0.7" and rows[1][4] != "±"  # one run: no spread


@pytest.mark.parametrize("args, line, code", [
    (["--top", "0"], "caviar retest: error: top: Input should be greater than or equal to 1", 2),
    (["--seeds", "51"], "caviar retest: error: seeds: Input should be less than or equal to 50",
     2),
])
def test_bad_counts_are_the_server_s_422_in_one_line(server, args, line, code):
    with CaviarClient(server.url) as client:
        sid = completed_search(client, "cli-retest-bad", 0.5)
    done = caviar("retest", str(sid), *args, "--server", server.url)
    assert (done.returncode, done.stderr, done.stdout) == (code, line + "\n", "")
    with CaviarClient(server.url) as client:
        assert client.get_search(sid)["max_trials"] == 1


def test_refusals_are_one_line_and_non_zero(server):
    with CaviarClient(server.url) as client:
        fresh = client.create_search(moons_spec("cli-retest-fresh", 2, 2))["id"]
    cases = [
        (["0"], 2, "caviar retest: error: SEARCH: must be a search id (1 or more), got 0"),
        (["99999"], 1, "caviar retest: error: search 99999 not found"),
        ([str(fresh)], 1, f"caviar retest: error: search {fresh} has no completed trial yet: "
                          "nothing to re-test"),
        (["1", "--server", f"http://127.0.0.1:{free_port()}"], 1, "unreachable"),
    ]
    for args, code, message in cases:
        command = args if "--server" in args else [*args, "--server", server.url]
        done = caviar("retest", *command)
        assert done.returncode == code, done.stderr
        assert done.stderr.strip().splitlines() == [done.stderr.strip()]
        assert message in done.stderr and "Traceback" not in done.stderr
