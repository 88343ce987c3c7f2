"""Where the worker routes' database work runs: on the event loop while the database is quick,
on threads of their own while it is slow.

A worker call's transaction takes about a millisecond, less than the hop to a
thread and back costs, so it runs on the event loop. But a stalled database (a
lock held past CAVIAR_DB_TIMEOUT_SECONDS) would then stall the whole server: each
call would hold the loop for the full timeout, one after another, and the calls
of a large fleet would pile up behind each other for minutes, with /healthz and
every other route waiting too. So a call that took longer than `SLOW_CALL`
sends the calls of the next `CALM_SECONDS` to a few threads, where they wait on
the database side by side, each for at most the timeout; a call that waited for
a thread longer than the timeout is answered 503 at once rather than added to the
pile (`DatabaseBusy`). Once calls are quick again for `CALM_SECONDS`, they run on
the loop again. A call is slow by its own run, not by its wait for a thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from service.db.session import DatabaseBusy

T = TypeVar("T")
# Seconds: a call this long on the event loop stalls every other request. A healthy call
# takes a millisecond, but on a busy server (1,750 simulated workers on 2 cores,
# benchmarks/load.py) one now and then takes a tenth of a second for want of a CPU, and
# the threads' extra CPU and row-lock contention then made every call that slow: the
# threshold is set well above such stalls and far below the database timeout.
SLOW_CALL = 0.5
CALM_SECONDS = 10.0
THREADS = 8


class DatabaseCalls:
    """Runs the worker routes' handlers: see the module's docstring."""

    def __init__(self, timeout_seconds: float, threads: int = THREADS,
                 calm_seconds: float = CALM_SECONDS) -> None:
        self.timeout_seconds = timeout_seconds
        self._threads = threads
        self._calm_seconds = calm_seconds
        self._executor: ThreadPoolExecutor | None = None
        self._threaded_until = 0.0

    @property
    def threaded(self) -> bool:
        """Whether calls go to the threads now (the database was slow lately)."""
        return time.monotonic() < self._threaded_until

    async def run(self, call: Callable[[], T]) -> T:
        """The call's result, computed on the loop or on a thread (see the module)."""
        if not self.threaded:
            return self._timed(call)
        return await asyncio.get_running_loop().run_in_executor(
            self._pool(), self._unless_waited_too_long, call, time.monotonic())

    def _timed(self, call: Callable[[], T]) -> T:
        """Run the call; if it ran longer than SLOW_CALL, send the calls of the calm
        seconds after it to the threads.

        Only the call's own run counts, not its wait for a thread: on a busy server calls
        queue for the threads however quick the database is, and counting that wait
        would keep them on the threads (more CPU per call, transactions contending for
        the same rows) for as long as the server stays busy.
        """
        started = time.monotonic()
        try:
            return call()
        finally:
            finished = time.monotonic()
            if finished - started > SLOW_CALL:
                self._threaded_until = finished + self._calm_seconds

    def _unless_waited_too_long(self, call: Callable[[], T], queued: float) -> T:
        waited = time.monotonic() - queued
        if waited > self.timeout_seconds:
            raise DatabaseBusy(f"the calls ahead of this one wait on a slow database: no turn "
                               f"within {self.timeout_seconds:g} s (CAVIAR_DB_TIMEOUT_SECONDS)")
        return self._timed(call)

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._threads, thread_name_prefix="caviar-db")
        return self._executor

    def close(self) -> None:
        """Stop the threads, if any were started."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
