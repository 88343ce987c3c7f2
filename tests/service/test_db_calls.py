"""The worker routes' database work: on the event loop while the database is quick, on
threads while it is slow, and shed with a 503 when it waited too long for a thread."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from service.api.db_calls import SLOW_CALL, DatabaseCalls
from service.db.session import DatabaseBusy
from tests.support.event_loops import run_alone


def _thread_name() -> str:
    return threading.current_thread().name


def test_quick_calls_run_on_the_event_loop():
    calls = DatabaseCalls(timeout_seconds=1)

    async def twice() -> list[str]:
        return [_thread_name(), await calls.run(_thread_name), await calls.run(_thread_name)]

    loop_thread, *ran_on = run_alone(twice())
    assert ran_on == [loop_thread] * 2
    assert not calls.threaded
    calls.close()


def test_a_slow_call_sends_the_next_ones_to_threads():
    calls = DatabaseCalls(timeout_seconds=1)

    async def slow_then_next() -> str:
        await calls.run(lambda: time.sleep(SLOW_CALL * 1.5))
        return await calls.run(_thread_name)

    assert run_alone(slow_then_next()).startswith("caviar-db")
    assert calls.threaded
    calls.close()


def test_the_threads_end_once_calls_run_quickly_however_long_they_queued():
    """On a busy server quick calls queue for the threads; that wait must not count as a
    slow database, or the calls would stay on the threads for as long as it is busy."""
    calls = DatabaseCalls(timeout_seconds=5, threads=1, calm_seconds=1.0)

    async def queue_behind_each_other() -> tuple[bool, bool]:
        await calls.run(lambda: time.sleep(SLOW_CALL * 1.5))  # threaded for 1 s from here
        slow_ended = time.monotonic()
        # 60 calls of 10 ms on one thread: the last ones wait past SLOW_CALL for it.
        await asyncio.gather(*(calls.run(lambda: time.sleep(0.01)) for _ in range(60)))
        queued_ended = time.monotonic()
        await asyncio.sleep(max(0.0, slow_ended + 1.2 - time.monotonic()))
        return queued_ended - slow_ended > SLOW_CALL, calls.threaded

    queued_long, still_threaded = run_alone(queue_behind_each_other())
    assert queued_long, "the calls did queue behind each other past SLOW_CALL"
    assert not still_threaded
    calls.close()


def test_a_call_that_waited_too_long_for_a_thread_is_shed():
    calls = DatabaseCalls(timeout_seconds=0.2, threads=1)
    ran: list[str] = []

    async def pile_up() -> None:
        await calls.run(lambda: time.sleep(SLOW_CALL * 1.5))  # now threaded
        stuck = asyncio.ensure_future(calls.run(lambda: time.sleep(0.5)))
        await asyncio.sleep(0.05)
        try:
            with pytest.raises(DatabaseBusy, match="no turn within 0.2 s"):
                await calls.run(lambda: ran.append("late"))
        finally:
            await stuck

    run_alone(pile_up())
    assert ran == [], "a shed call never reaches the database"
    calls.close()
