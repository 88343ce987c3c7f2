"""Running a coroutine from a test, whatever else runs on the main thread."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def run_alone(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine on a loop of its own thread: the dashboard tests' Playwright keeps an
    event loop running on the main thread for the whole session, where `asyncio.run` fails."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-loop") as pool:
        return pool.submit(asyncio.run, coroutine).result()
