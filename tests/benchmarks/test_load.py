"""benchmarks/load.py at tiny scale, so that it does not rot: a real server on a fresh
PostgreSQL database, 20 simulated workers for a few seconds, its consistency check passing
and its report parsing; and the check itself catching what it is there to catch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "benchmarks"


@pytest.mark.postgres
@pytest.mark.timeout(90)
def test_a_tiny_run_is_consistent_and_reported(tmp_path: Path) -> None:
    figures = tmp_path / "load.json"
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "load.py"), "--workers-sim", "20", "--duration", "6",
         "--epochs", "3", "--epoch-seconds", "0.2", "0.8", "--json", str(figures)],
        cwd=ROOT, capture_output=True, text=True, timeout=80)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "consistency: OK" in done.stdout
    assert "not measured in this invocation" in done.stdout  # 20 workers is not the target
    report = json.loads(figures.read_text())
    (run,) = report["runs"]
    assert run["workers"] == 20 and run["consistent"] and not run["problems"]
    assert run["completed"] > 0, done.stdout  # trials of 3 short epochs end within the run
    assert {"claim", "report", "complete"} <= set(run["p99_ms"])
    assert run["calls_per_second"] > 0
    assert report["target_met"] is None


def test_the_check_finds_lost_doubled_and_miscounted_trials(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the scripts import their neighbours
    from load_check import Checked, _check_trial
    from load_sim import Attempt

    def findings(status: str, attempt: int, claims: list[Attempt], rows: set[int]) -> Checked:
        found = Checked()
        by_attempt: dict[int, list[Attempt]] = {}
        for claim in claims:
            by_attempt.setdefault(claim.attempt, []).append(claim)
        _check_trial(7, status, attempt, by_attempt, rows, found)
        return found

    done = Attempt(7, 1, "a", acked={0, 1, 2}, completed=True)
    assert findings("completed", 1, [done], {0, 1, 2}).ok
    assert "epoch rows lost" in findings("completed", 1, [done], {0, 1}).problems
    assert "epoch rows unexpected" in findings("completed", 1, [done], {0, 1, 2, 3}).problems
    assert "completions lost" in findings("running", 1, [done], {0, 1, 2}).problems
    twice = [Attempt(7, 1, "a", completed=True), Attempt(7, 2, "b", completed=True)]
    assert "completions not exactly once" in findings("completed", 2, twice, set()).problems
    same = [Attempt(7, 1, "a"), Attempt(7, 1, "b")]
    assert "attempts handed out twice" in findings("running", 1, same, set()).problems
    given_back = Attempt(7, 1, "a", acked={0}, given_back=True)
    assert findings("pending", 2, [given_back], set()).ok
    assert "attempts miscounted" in findings("pending", 3, [given_back], set()).problems
    assert "epoch rows unexpected" in findings("pending", 2, [given_back], {0}).problems
    assert "give-backs lost" in findings("running", 1, [given_back], {0}).problems
    orphan = findings("running", 2, [Attempt(7, 1, "a", lost=True)], set())
    assert orphan.ok and orphan.orphaned == 1
