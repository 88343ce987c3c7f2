"""The rung view and parameter importance on a big search: their routes, and the page's poll.

On a fresh SQLite file (or PostgreSQL database) this script:

1. starts `caviar serve`, creates a search with ASHA (eta 3, rungs at 1, 3 and 9 of 20
   epochs) and bulk-inserts N completed trials as benchmarks/dashboard.py does, with
   their rung values (every trial at rung 0, a third at rung 1, a ninth at rung 2: about
   1.44 N rows of rung_entries);
2. times GET /searches/{id}/rungs and /importance (the first importance answer fits the
   forest; the next ones are remembered) against the empty `since` poll, from the
   server's /metrics histogram;
3. opens the search's page in headless Chromium while a simulated worker runs trials of
   it through the worker protocol (so trials reach rungs and the rung view refetches),
   with the rung view on, and off (its route answered as for a search without rungs, so
   it draws nothing), alternately; and reads from the page's resource timings the
   interval between its `since` polls (the poll interval, 2 s, plus the tick's own work:
   a view that held up the poll would lengthen it), how often it fetched the rungs, and
   the longest main-thread task (PerformanceObserver, `longtask`).

    .venv/bin/python benchmarks/dashboard_rungs.py [--trials 10000] [--runs 2]
        [--seconds 20] [--database sqlite|postgres]

This script must not import the server package (see benchmarks/dashboard.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT))

from bench_tables import TRIALS  # noqa: E402  (this folder)
from dashboard import API, CHROMIUM_ARGS, SPEC, add_completed_trials, timed_gets  # noqa: E402

from tests.dashboard.simulated_worker import SimulatedWorker  # noqa: E402
from tests.support.databases import database  # noqa: E402
from tests.support.processes import start_server  # noqa: E402

EPOCHS = 20
RUNGS = [(0, 1), (1, 3), (2, 9)]  # (rung, epochs) of ASHA with eta 3 and min_epochs 1
RUNG_ENTRIES = sa.table(
    "rung_entries", sa.column("search_id"), sa.column("trial_id"), sa.column("bracket"),
    sa.column("rung"), sa.column("epochs"), sa.column("value", sa.Float),
    sa.column("outcome"), sa.column("created_at", sa.DateTime))

OBSERVE_LONG_TASKS = """() => {
    window.longestTask = 0;
    new PerformanceObserver(list => {
        for (const entry of list.getEntries())
            window.longestTask = Math.max(window.longestTask, entry.duration);
    }).observe({type: "longtask"});
}"""

REQUESTS = """fragment => performance.getEntriesByType("resource")
    .filter(e => e.name.includes(fragment)).map(e => [e.startTime, e.duration])"""


def add_rung_entries(database_url: str, search_id: int) -> int:
    """The ASHA search's rung values: trial n reaches rung k if n % 3^k == 0 (its value
    there, its value scaled down by the epochs it lacks), continued if it reached the next."""
    engine = sa.create_engine(database_url)
    now = datetime.now(UTC).replace(tzinfo=None)
    try:
        with engine.begin() as connection:
            trials = connection.execute(sa.select(TRIALS.c.id, TRIALS.c.number, TRIALS.c.value)
                                        .where(TRIALS.c.search_id == search_id)).all()
            rows = [{"search_id": search_id, "trial_id": trial_id, "bracket": 0, "rung": rung,
                     "epochs": epochs, "value": value * epochs / (epochs + 2),
                     "outcome": "continued" if number % 3 ** (rung + 1) == 0 else "stopped",
                     "created_at": now}
                    for trial_id, number, value in trials for rung, epochs in RUNGS
                    if number % 3 ** rung == 0]
            connection.execute(RUNG_ENTRIES.insert(), rows)
            return len(rows)
    finally:
        engine.dispose()


def keep_running(base_url: str, search_id: int, stop: threading.Event) -> int:
    """Run trials of the search through the worker protocol until told to stop, an epoch
    every 20 ms; returns how many trials it finished."""
    worker = SimulatedWorker(base_url, f"bench/rungs-{search_id}")
    finished = 0
    try:
        while not stop.is_set():
            trial = worker.claim(search_id)
            if trial is None:
                break
            for _ in range(EPOCHS):
                time.sleep(0.02)
                if stop.is_set() or worker.report(trial)["action"] == "stop":
                    break
            worker.complete(trial)
            finished += 1
    finally:
        worker.close()
    return finished


NO_RUNGS = json.dumps({"kind": None, "eta": None, "brackets": [], "entries": []})


def watch_page(browser: Any, base_url: str, search_id: int, seconds: float, rung_view: bool
               ) -> dict[str, Any]:
    """Open the search's page, then let it poll for `seconds` while a worker runs trials."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    if not rung_view:
        page.route(f"**/api/v1/searches/{search_id}/rungs", lambda route: route.fulfill(
            status=200, content_type="application/json", body=NO_RUNGS))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{base_url}/#/searches/{search_id}")
    page.wait_for_selector("body[data-ready=search]", timeout=120_000)
    ready = page.evaluate("window.caviarReady")
    page.evaluate(OBSERVE_LONG_TASKS)
    start = page.evaluate("performance.now()")
    stop = threading.Event()
    finished: list[int] = []
    runner = threading.Thread(target=lambda: finished.append(
        keep_running(base_url, search_id, stop)))
    runner.start()
    page.wait_for_timeout(seconds * 1000)
    stop.set()
    runner.join()
    polls = [(at, took) for at, took in page.evaluate(REQUESTS, "trials?since=") if at > start]
    rungs = [took for at, took in page.evaluate(REQUESTS, f"{search_id}/rungs") if at > start]
    longest = page.evaluate("window.longestTask")
    context.close()
    if errors:
        raise RuntimeError(f"page errors: {errors}")
    return {"ready": ready, "intervals": [b - a for (a, _), (b, _) in pairwise(polls)],
            "poll_times": [took for _, took in polls],
            "rung_fetches": rungs, "longest_task": longest, "trials": finished[0]}


def percentile(ordered: list[float], share: float) -> float:
    """The value at `share` of an ordered list (nearest rank)."""
    return ordered[round(share * (len(ordered) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=2, help="page runs of each search")
    parser.add_argument("--seconds", type=float, default=20, help="polling time of each run")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, database(args.database, Path(folder)) as url:
        server = start_server(url, Path(folder), env={
            "CAVIAR_MAX_TRIALS": str(2 * args.trials + 10_000), "CAVIAR_LEASE_SECONDS": "3600"})
        try:
            return run(args, server.url, url)
        finally:
            server.stop()


def run(args: argparse.Namespace, base_url: str, database_url: str) -> int:
    client = httpx.Client(base_url=base_url, timeout=120)
    asha = client.post(f"{API}/searches", json={
        **SPEC, "name": "rungs",
        "budget": {"max_trials": 2 * args.trials + 10_000, "max_parallel": 10},
        "early_stopping": {"kind": "asha", "eta": 3, "min_epochs": 1},
        "fixed": {"epochs": EPOCHS}}).raise_for_status().json()["id"]
    add_completed_trials(database_url, asha, args.trials, EPOCHS)
    entries = add_rung_entries(database_url, asha)
    print(f"{args.trials} completed trials with {entries} rung values ({args.database}); "
          "load average " + ", ".join(f"{v:.1f}" for v in os.getloadavg())
          + f" on {os.cpu_count()} cores")

    cursor = client.get(f"{API}/searches/{asha}").json()["cursor"]
    since = timed_gets(client, f"{API}/searches/{asha}/trials", {"since": cursor}, 100,
                       "/api/v1/searches/{search_id}/trials")
    rungs = timed_gets(client, f"{API}/searches/{asha}/rungs", {}, 20,
                       "/api/v1/searches/{search_id}/rungs")
    first = timed_gets(client, f"{API}/searches/{asha}/importance", {}, 1,
                       "/api/v1/searches/{search_id}/importance")
    again = timed_gets(client, f"{API}/searches/{asha}/importance", {}, 100,
                       "/api/v1/searches/{search_id}/importance")
    print("routes, ms (round trip p50 / p95, server mean; body bytes):")
    for label, (p50, p95, server, size) in [
            ("reference: empty since poll", since), ("GET rungs", rungs),
            ("GET importance, first (fits)", first), ("GET importance, remembered", again)]:
        print(f"  {label:32s} {p50:8.2f} / {p95:8.2f}  server {server:8.2f} "
              f"({server / since[2]:7.2f}x)  {size:>9,d} B")

    from playwright.sync_api import sync_playwright

    variants = {"rung view on": True, "rung view off": False}
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             headless=True, args=CHROMIUM_ARGS)
        try:
            for _ in range(args.runs):
                for name, rung_view in variants.items():
                    results[name].append(watch_page(browser, base_url, asha, args.seconds,
                                                    rung_view))
        finally:
            browser.close()
    print(f"the page while a worker runs trials, {args.runs} runs of {args.seconds:.0f} s "
          "each, interleaved (ms):")
    print(f"  {'':14s} {'ready':>6s} {'poll interval p50 / p90 / max':>30s} "
          f"{'poll request p50 / p90':>23s} {'rung fetches (mean ms)':>23s} "
          f"{'longest task':>13s} {'trials run':>11s}")
    for name, runs in results.items():
        intervals = sorted(i for r in runs for i in r["intervals"])
        times = sorted(t for r in runs for t in r["poll_times"])
        fetches = [t for r in runs for t in r["rung_fetches"]]
        print(f"  {name:14s} {statistics.median(r['ready'] for r in runs):6.0f} "
              f"{statistics.median(intervals):14.0f} / {percentile(intervals, 0.9):5.0f} / "
              f"{intervals[-1]:5.0f} {statistics.median(times):15.1f} / "
              f"{percentile(times, 0.9):5.1f} {len(fetches):11d} "
              f"({statistics.mean(fetches) if fetches else 0:6.1f}) "
              f"{max(r['longest_task'] for r in runs):13.0f} "
              f"{sum(r['trials'] for r in runs):11d}")
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
