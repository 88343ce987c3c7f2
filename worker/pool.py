"""Worker processes: one runner in this process, or N independent child processes.

Each process is limited to one BLAS thread: the environment variables are set
before NumPy is imported (children get them in their environment; in this
process `run_process` sets them before importing the runner), and threadpoolctl
enforces it once NumPy is loaded. Trials are independent, so N single-threaded
processes use N cores better than one process with N BLAS threads.

Signals: the first SIGTERM/SIGINT asks for a clean stop (the running trial is
given back to the server at once, exit 0); a second one exits at once. A pool
passes the clean stop on to its children as SIGUSR1, which never counts as a
second signal: a batch system that sends SIGTERM to every process of a job
(Slurm's scancel) reaches each child twice, its own SIGTERM and the pool's
SIGUSR1, and that is still one clean stop.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from types import FrameType

BLAS_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
PARENT_ENV = "CAVIAR_WORKER_PARENT_PID"
SIGNALS = (signal.SIGTERM, signal.SIGINT)
STOP_SIGNAL = signal.SIGUSR1  # the pool's clean stop, sent to its children


def default_worker_id() -> str:
    """`host/pid`: unique on a fleet, and readable in logs and the dashboard."""
    return f"{socket.gethostname()}/{os.getpid()}"


def _on_signals(first: Callable[[], None], second: Callable[[int], None]) -> None:
    """Call `first` on the first SIGTERM/SIGINT and `second(signum)` on any later one."""
    received = []

    def handle(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        if len(received) == 1:
            first()
        else:
            second(signum)

    for sig in SIGNALS:
        signal.signal(sig, handle)


def _ignore_stop_signals() -> None:
    """The process's work is done and it is exiting: a stop asked now (Slurm's SIGTERM to
    every process of a step, or the pool's SIGUSR1, may reach a process a moment after it
    stopped) changes nothing, and must not kill a clean exit while Python finalizes (which
    puts back the default handlers, and SIGTERM's and SIGUSR1's default is to die)."""
    for sig in (*SIGNALS, STOP_SIGNAL):
        signal.signal(sig, signal.SIG_IGN)


def run_process(server: str, worker_id: str | None, search_id: int | None,
                max_trials: int | None, idle_exit: float | None, verbose: bool) -> int:
    """Run one worker loop in this process until it stops; return its exit code."""
    os.environ.update(BLAS_ENV)
    from threadpoolctl import threadpool_limits

    from worker.client import TOKEN_ENV, CaviarClient
    from worker.logs import worker_logger
    from worker.runner import Runner, RunnerOptions

    threadpool_limits(1)  # the runner imported NumPy; this covers a BLAS that ignores the env
    parent = os.environ.get(PARENT_ENV)
    options = RunnerOptions(
        worker_id=worker_id or default_worker_id(), search_id=search_id,
        max_trials=max_trials, idle_exit=idle_exit, verbose=verbose,
        parent_pid=int(parent) if parent else None,
    )
    with CaviarClient(server, token=os.environ.get(TOKEN_ENV) or None) as client:
        runner = Runner(client, options, log=worker_logger(options.worker_id))
        _on_signals(runner.request_shutdown, lambda signum: os._exit(128 + signum))
        signal.signal(STOP_SIGNAL, lambda signum, frame: runner.request_shutdown())
        code = runner.run()
    _ignore_stop_signals()
    return code


def run_pool(child_args: list[str], processes: int, worker_id: str | None) -> int:
    """Start `processes` children running `caviar worker CHILD_ARGS`; wait for them all.

    Children run in their own process group, so a terminal's Ctrl-C reaches them
    once, through this process, and a second Ctrl-C still means "now".
    """
    env = {**os.environ, **BLAS_ENV, PARENT_ENV: str(os.getpid())}
    children: list[subprocess.Popen[bytes]] = []
    for index in range(processes):
        name = ["--worker-id", f"{worker_id}/{index}"] if worker_id else []
        children.append(subprocess.Popen(
            [sys.executable, "-m", "caviar", "worker", *child_args, *name, "--processes", "1"],
            env=env, process_group=0,
        ))

    def forward(sig: int) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(sig)

    def kill_all(signum: int) -> None:
        forward(signal.SIGKILL)
        os._exit(128 + signum)

    _on_signals(lambda: forward(STOP_SIGNAL), kill_all)
    codes = [child.wait() for child in children]
    _ignore_stop_signals()
    return max(128 - code if code < 0 else code for code in codes)
