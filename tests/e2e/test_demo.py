"""`caviar demo`, as a user runs it: the real console script, nothing set up."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.helpers import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]

CAVIAR = str(Path(sys.executable).parent / "caviar")
DASHBOARD = re.compile(r"^dashboard: (http://127\.0\.0\.1:\d+/)$", re.MULTILINE)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_demo_search_finishes_above_97_percent_and_cleans_up(tmp_path):
    started = time.monotonic()
    done = subprocess.run([CAVIAR, "demo"], capture_output=True, text=True, timeout=360,
                          cwd=tmp_path, stdin=subprocess.DEVNULL)
    took = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert took < 300, f"the demo took {took:.0f} s; it must finish in 5 minutes"
    assert "60/60 done" in out and "[completed]" in out
    assert re.search(r"^rank\s+trial\s+dev_accuracy\s+epochs\s+batch_size\s+beta1", out,
                     re.MULTILINE)
    best = re.search(r"best trial #(\d+): dev_accuracy (\d\.\d+)", out)
    assert best and float(best.group(2)) >= 0.97, out
    retrained = re.search(r"dev accuracy (\d\.\d+), test accuracy (\d\.\d+)", out)
    assert retrained, out
    assert abs(float(retrained.group(1)) - float(best.group(2))) < 1e-4, "same seed, same model"
    assert 0.9 <= float(retrained.group(2)) <= 1.0
    assert not DASHBOARD.search(out), "no address is printed for a dashboard about to stop"
    assert "`caviar demo --keep` leaves them and the dashboard up" in out
    server = re.search(r"^starting the server on (http://127\.0\.0\.1:\d+) ", out, re.MULTILINE)
    assert server, out
    assert not _answers(f"{server.group(1)}/"), "the server is stopped at the end"
    folder = re.search(r"\(SQLite in (\S+)\)", out)
    assert folder and not Path(folder.group(1)).exists(), "the temporary folder is removed"


def test_quick_demo_with_keep_serves_the_dashboard_until_ctrl_c(tmp_path):
    log = tmp_path / "demo.out"
    with log.open("w") as out:
        demo = subprocess.Popen([CAVIAR, "demo", "--quick", "--keep", "--workers", "1"],
                                stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path,
                                stdin=subprocess.DEVNULL)
        try:
            dashboard = wait_for("the dashboard address",
                                 lambda: DASHBOARD.search(log.read_text()), timeout=240)
            url = dashboard.group(1)
            assert "8/8 done" in log.read_text()
            assert _answers(url), "--keep leaves the server up"
            time.sleep(1)
            assert demo.poll() is None
            demo.send_signal(signal.SIGINT)
            assert demo.wait(60) in (0, 130)
        finally:
            if demo.poll() is None:
                demo.kill()
                demo.wait()
    assert not _answers(url), "Ctrl-C stops the server"
