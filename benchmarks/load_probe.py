"""What the machine does during a load run: the server's and PostgreSQL's CPU (from /proc)
and, sampled once a second, the run database's backends and what they wait on.

PostgreSQL's CPU is given twice: all its processes (what benchmarks/service.py reports;
on a shared cluster it includes other databases' work), and the run database's own
backends (each one's CPU from when it was first seen, or from 0 if it appeared later).
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import psycopg
from bench_cpu import (  # this folder
    pid_cpu,
    postgres_cpu,
    process_tree,
    process_tree_cpu,
    run_queue_wait,
)

WAITS = ("SELECT coalesce(wait_event_type, 'CPU') || ':' || coalesce(wait_event, '-'), "
         "count(*) FROM pg_stat_activity WHERE datname = %s AND state = 'active' "
         "AND pid <> pg_backend_pid() GROUP BY 1")
BACKENDS = "SELECT pid FROM pg_stat_activity WHERE datname = %s"


@dataclass
class Waits:
    """Active backends of the run's database by wait event, summed over the samples."""

    samples: int = 0
    events: Counter = field(default_factory=Counter)
    lock_max: int = 0  # most backends waiting on a heavyweight lock at one sample

    def line(self) -> str:
        if not self.samples:
            return "backends: no samples"
        per = {event: count / self.samples for event, count in self.events.items()}
        locks = sum(v for event, v in per.items() if event.startswith("Lock:"))
        top = ", ".join(f"{event} {value:.2f}" for event, value in
                        sorted(per.items(), key=lambda item: -item[1])[:5])
        return (f"active backends per sample ({self.samples} samples): "
                f"{sum(per.values()):.2f}, waiting on row/transaction locks {locks:.2f} "
                f"(max {self.lock_max}); by wait event: {top or 'none'}")


def handler_seconds(server_url: str) -> float:
    """Seconds the server (the process that answers) has spent answering requests, from its
    /metrics (`caviar_request_duration_seconds_sum`, every route). The worker routes run
    their transactions on the event loop, so on one process this is how long the loop was
    held by them, waits on PostgreSQL included."""
    text = httpx.get(f"{server_url}/metrics", timeout=60).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("caviar_request_duration_seconds_sum"))


class Probe:
    """Samples lock waits in a thread while a run goes; CPU of the server and PostgreSQL;
    the server's time in its handlers."""

    def __init__(self, admin_url: str, database: str, server_pid: int, server_url: str
                 ) -> None:
        self._server_url = server_url
        self._admin_url = admin_url
        self._database = database
        self._server_pid = server_pid
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="load-probe", daemon=True)
        self.waits = Waits()
        self.server_cpu = self.postgres_cpu = 0.0
        self._backends: dict[int, tuple[float, float]] = {}  # pid -> (first, last) CPU s
        # (time, server CPU, backends CPU, server's wait for a CPU), cumulative seconds
        self.series: list[tuple[float, float, float, float]] = []
        self.server_wait = 0.0
        self.handler_seconds = 0.0
        self._first_sample = True

    @property
    def database_cpu(self) -> float:
        """CPU seconds of the run database's backends while the probe ran."""
        return sum(last - first for first, last in self._backends.values())

    def __enter__(self) -> Probe:
        self._handlers0 = handler_seconds(self._server_url)
        self._server_pids = process_tree(self._server_pid)
        self._wait0 = run_queue_wait(self._server_pids)
        self._server0 = process_tree_cpu(self._server_pid)
        self._postgres0 = postgres_cpu()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        self.server_cpu = process_tree_cpu(self._server_pid) - self._server0
        self.server_wait = run_queue_wait(self._server_pids) - self._wait0
        self.handler_seconds = handler_seconds(self._server_url) - self._handlers0
        self.postgres_cpu = postgres_cpu() - self._postgres0

    def _sample(self) -> None:
        with psycopg.connect(self._admin_url, autocommit=True) as connection:
            self._track_backends(connection)
            self._record(0.0)
            while not self._stop.wait(1.0):
                rows = connection.execute(WAITS, (self._database,)).fetchall()
                self.waits.samples += 1
                locks = 0
                for event, count in rows:
                    self.waits.events[event] += count
                    if event.startswith("Lock:"):
                        locks += count
                self.waits.lock_max = max(self.waits.lock_max, locks)
                self._track_backends(connection)
                self._record(self.database_cpu)

    def _record(self, database_cpu: float) -> None:
        self.series.append((time.monotonic(), process_tree_cpu(self._server_pid), database_cpu,
                            run_queue_wait(self._server_pids)))

    def shares(self, start: float, seconds: float, parts: int) -> list[tuple[float, ...]]:
        """(server CPU, run database's backends' CPU, server's wait for a CPU) as shares of
        one core in each of `parts` equal parts of the `seconds` from `start`
        (time.monotonic()); NaN without two samples in a part."""
        out: list[tuple[float, ...]] = []
        for k in range(parts):
            low, high = start + seconds * k / parts, start + seconds * (k + 1) / parts
            inside = [s for s in self.series if low <= s[0] <= high]
            if len(inside) < 2:
                out.append((math.nan,) * 3)
                continue
            wall = inside[-1][0] - inside[0][0]
            out.append(tuple((inside[-1][i] - inside[0][i]) / wall for i in (1, 2, 3)))
        return out

    def _track_backends(self, connection: psycopg.Connection) -> None:
        for (pid,) in connection.execute(BACKENDS, (self._database,)).fetchall():
            cpu = pid_cpu(pid)
            if cpu is None:
                continue
            first = self._backends.get(pid, (cpu if self._first_sample else 0.0, cpu))[0]
            self._backends[pid] = (first, cpu)
        self._first_sample = False
