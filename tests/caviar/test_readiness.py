"""caviar.readiness: waiting for a `caviar serve` child process, as `caviar demo`, the tests
and the benchmarks do, with real processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from caviar.readiness import ServerNotReady, free_port, wait_healthy


def _start(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT)


def test_a_real_server_is_waited_for_until_it_answers(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "server.log"
    server = _start([sys.executable, "-m", "caviar", "serve", "--port", str(port),
                     "--database-url", f"sqlite:///{tmp_path / 'caviar.db'}"], log)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", server, log, timeout=60)
        assert server.poll() is None
    finally:
        server.terminate()
        server.wait(15)


def test_a_server_that_exits_is_reported_with_its_code_and_the_end_of_its_log(
        tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    lines = "; ".join(f"print('line {n}')" for n in range(30))
    process = _start([sys.executable, "-c", f"{lines}; raise SystemExit(3)"], log)
    process.wait(15)
    with pytest.raises(ServerNotReady) as caught:
        wait_healthy(f"http://127.0.0.1:{free_port()}", process, log, log_lines=5)
    message = str(caught.value)
    assert message.startswith("the server exited with code 3:\n")
    assert message.splitlines()[1:] == [f"line {n}" for n in range(25, 30)]


def test_a_server_that_never_answers_is_reported_after_the_timeout(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("starting\n")
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    url = f"http://127.0.0.1:{free_port()}"
    try:
        with pytest.raises(ServerNotReady) as caught:
            wait_healthy(url, process, log, timeout=0.5)
    finally:
        process.kill()
        process.wait()
    assert str(caught.value) == f"the server at {url} did not answer within 0.5 s:\nstarting"
