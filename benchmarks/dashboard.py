"""Speed of the dashboard on a big search: first render in Chromium, and the `since` poll.

On a fresh SQLite file (or PostgreSQL database) this script:

1. starts `caviar serve` as a real process, creates a search through the API and
   bulk-inserts N completed trials with E per-epoch rows each into the server's
   tables (plain SQL, keeping the search's counters, cursor and best trial as
   the server would), then runs 3 more trials through the worker protocol over
   HTTP and leaves them running, so the page is live;
2. opens the search page in headless Chromium (Debian's, as the tests do) in a
   fresh browser context (cold cache) several times, and once more as a reload
   (warm cache), and reads `window.caviarReady`: the time from navigation until
   the header, the trial table and every chart above the parallel coordinates
   (best so far, both learning-curve charts, the figure of the parameter
   scatters) are drawn with every trial, after the full `since=0` load (charts
   the page draws earlier from short lists of the best and running trials do
   not count). The parallel coordinates are drawn when scrolled into view;
   their draw time is measured by scrolling to them. The page's performance
   marks (`caviar:*`) give the phases. Reference measured in the same run:
   loading and evaluating the vendored Plotly bundle alone in a blank page;
3. times `since` polls that find nothing new (client round trip, and the
   server's own time from its /metrics histogram) against `GET /healthz` as
   reference, and compares the payload of an empty poll, of a poll after a few
   changes, and of the full `since=0` load;
4. with `--variants RUNS`, times cold loads with parts of the page's early
   drawing turned off by failing the requests it rests on (the curve preview's
   per-epoch fetches; the short lists of running and best trials), interleaved
   with the page as shipped so that all see the same load.

    .venv/bin/python benchmarks/dashboard.py [--trials 10000] [--epochs 20]
        [--runs 3] [--polls 300] [--database sqlite|postgres] [--variants RUNS]

Targets (issue 5): interactive in under 2 s; an empty poll under 10 ms; the
poll's payload grows with what changed, not with the search.

This script must not import the server package (its folder holds a
`service.py`); it speaks HTTP and plain SQL only.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT))

from bench_tables import INTERMEDIATE, SEARCHES, TRIALS  # noqa: E402  (this folder)

from tests.dashboard.simulated_worker import SimulatedWorker, epoch_metrics  # noqa: E402
from tests.support.databases import database  # noqa: E402
from tests.support.processes import start_server  # noqa: E402

API = "/api/v1"
SINCE_ROUTE = "/api/v1/searches/{search_id}/trials"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]
SPEC = {
    "name": "dashboard-benchmark",
    "dataset": "digits",
    "objective": {"metric": "dev_accuracy", "goal": "maximize"},
    "sampler": {"kind": "random", "seed": 0},
    "early_stopping": {"kind": "none"},
    "parameters": {
        "learning_rate": {"type": "float", "low": 1e-4, "high": 1.0, "scale": "log"},
        "beta1": {"type": "float", "low": 0.9, "high": 0.999, "scale": "reverse_log"},
        "hidden_units": {"type": "int", "low": 50, "high": 100},
        "num_layers": {"type": "int", "low": 2, "high": 4},
        "batch_size": {"type": "choice", "values": [64, 128, 256, 512]},
    },
}
RUNNING = 3
PREVIEWED = RUNNING + 10  # trials whose curves the page previews: the running and 10 best



# --- the data -----------------------------------------------------------------------------

def sample_params(rng: random.Random) -> dict[str, object]:
    """Params of SPEC, drawn on each parameter's scale."""
    return {
        "learning_rate": 10 ** rng.uniform(-4, 0),
        "beta1": 1 - 10 ** rng.uniform(-3, -1),
        "hidden_units": rng.randint(50, 100),
        "num_layers": rng.randint(2, 4),
        "batch_size": rng.choice([64, 128, 256, 512]),
    }


def add_completed_trials(database_url: str, search_id: int, trials: int, epochs: int,
                         chunk: int = 1000) -> None:
    """Bulk-insert completed trials with `epochs` per-epoch rows each, as the server keeps them."""
    rng = random.Random(0)
    now = datetime.now(UTC).replace(tzinfo=None)
    engine = sa.create_engine(database_url)
    best_value, best_number = -math.inf, 0
    try:
        with engine.begin() as connection:
            for low in range(0, trials, chunk):
                rows, curves = [], {}
                for number in range(low, min(trials, low + chunk)):
                    params = sample_params(rng)
                    curve = [epoch_metrics(params, epoch) for epoch in range(epochs)]
                    last = curve[-1]
                    value = max(row["dev_accuracy"] for row in curve)
                    if value > best_value:
                        best_value, best_number = value, number
                    rows.append({
                        "search_id": search_id, "number": number, "params": params, "round": 0,
                        "status": "completed", "attempt": 1, "worker_id": f"bulk/{number % 8}",
                        "value": value, "last_epoch": epochs - 1, "seq": number + 1,
                        "metrics": {"dev_accuracy": last["dev_accuracy"],
                                    "dev_loss": last["dev_loss"], "epochs": epochs},
                        "created_at": now, "started_at": now, "finished_at": now,
                    })
                    curves[number] = curve
                connection.execute(TRIALS.insert(), rows)
                ids = dict(connection.execute(
                    sa.select(TRIALS.c.number, TRIALS.c.id).where(
                        TRIALS.c.search_id == search_id, TRIALS.c.number >= low,
                        TRIALS.c.number < low + chunk)).all())
                connection.execute(INTERMEDIATE.insert(), [
                    {"trial_id": ids[number], "epoch": epoch, "value": row["dev_accuracy"],
                     "metrics": row, "created_at": now}
                    for number, curve in curves.items() for epoch, row in enumerate(curve)
                ])
            best_id, best_value = connection.execute(sa.select(TRIALS.c.id, TRIALS.c.value).where(
                TRIALS.c.search_id == search_id, TRIALS.c.number == best_number)).one()
            connection.execute(SEARCHES.update().where(SEARCHES.c.id == search_id).values(
                n_trials=trials, count_completed=trials, last_seq=trials,
                best_trial_id=best_id, best_value=best_value, updated_at=now))
    finally:
        engine.dispose()


# --- the page -----------------------------------------------------------------------------

PLOTLY_ALONE = """async () => {
    const start = performance.now();
    await new Promise((resolve, reject) => {
        const script = document.createElement("script");
        script.src = "/vendor/plotly-gl2d.min.js";
        script.onload = resolve;
        script.onerror = reject;
        (document.head || document.body).append(script);
    });
    return performance.now() - start;
}"""

SCROLL_TO_PARALLEL = """async () => {
    const div = document.querySelector("#chart-parallel");
    const start = performance.now();
    div.scrollIntoView();
    while (div.dataset.drawn !== "true") await new Promise(r => setTimeout(r, 10));
    return performance.now() - start;
}"""

PHASES = """() => Object.fromEntries(performance.getEntriesByType("mark")
    .filter(m => m.name.startsWith("caviar:")).map(m => [m.name.slice(7), m.startTime]))"""

SORT_BY_VALUE = """() => {
    const start = performance.now();
    document.querySelector("#trial-table th[data-column=value]").click();
    return performance.now() - start;
}"""


def measure_page(url: str, search_id: int, runs: int) -> dict[str, list[float]]:
    """Cold and warm first renders of the search page, Plotly alone, parcoords, sorting."""
    from playwright.sync_api import sync_playwright

    figures: dict[str, list[float]] = {"plotly": [], "cold": [], "warm": [], "parallel": [],
                                       "sort": [], "poll_bytes": []}
    phases: list[dict[str, float]] = []
    page_url = f"{url}/#/searches/{search_id}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             headless=True, args=CHROMIUM_ARGS)
        try:
            for _ in range(runs):
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                page = context.new_page()
                page.goto(f"{url}/vendor/LICENSE-plotly.txt")
                figures["plotly"].append(page.evaluate(PLOTLY_ALONE))
                context.close()

                context = browser.new_context(viewport={"width": 1280, "height": 800})
                page = context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda error, errors=errors: errors.append(str(error)))
                page.on("console", lambda message, errors=errors: errors.append(message.text)
                        if message.type == "error" else None)
                page.goto(page_url)
                page.wait_for_selector("body[data-ready=search]", timeout=120_000)
                figures["cold"].append(page.evaluate("window.caviarReady"))
                phases.append(page.evaluate(PHASES))
                rows = page.locator("#trial-table tbody tr").count()
                total = page.inner_text(".page-info")
                figures["parallel"].append(page.evaluate(SCROLL_TO_PARALLEL))
                figures["sort"].append(page.evaluate(SORT_BY_VALUE))
                page.wait_for_timeout(4500)
                figures["poll_bytes"].extend(page.evaluate(
                    "() => performance.getEntriesByType('resource')"
                    ".filter(e => e.name.includes('since=') && !e.name.includes('since=0'))"
                    ".map(e => e.encodedBodySize)"))
                for _ in range(2):  # V8 caches a script's code from its second load on
                    page.reload()
                    page.wait_for_selector("body[data-ready=search]", timeout=120_000)
                figures["warm"].append(page.evaluate("window.caviarReady"))
                context.close()
                if errors:
                    raise RuntimeError(f"page and console errors: {errors}")
            print(f"  page drew {rows} table rows ({total})")
            print("  phases of the cold loads, ms from navigation (median): " + ", ".join(
                f"{name} {statistics.median(p[name] for p in phases):.0f}"
                for name in ["plotly", "data", "table", "best", "scatters", "curves", "ready"]))
        finally:
            browser.close()
    return figures


def without_curve_preview(page: Any) -> None:
    """Fail the page's first per-epoch fetches (those of its curve preview), so that the
    learning curves are fetched and drawn only once every trial is loaded."""
    failed = [0]

    def handle(route: Any) -> None:
        failed[0] += 1
        if failed[0] <= PREVIEWED:
            route.abort()
        else:
            route.continue_()

    page.route(re.compile(r"/api/v1/trials/\d+"), handle)


VARIANTS: dict[str, Callable[[Any], None]] = {
    "as shipped": lambda page: None,
    "no curve preview (WebGL set-up kept)": without_curve_preview,
    "no short lists: nothing drawn early": lambda page: page.route(
        re.compile(r"/trials\?status="), lambda route: route.abort()),
}


def measure_variants(url: str, search_id: int, runs: int) -> dict[str, list[dict[str, float]]]:
    """Cold first renders with the page's early drawing disabled in parts (by failing the
    requests it rests on), interleaved so that every variant sees the same load."""
    from playwright.sync_api import sync_playwright

    phases: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             headless=True, args=CHROMIUM_ARGS)
        try:
            for _ in range(runs):
                for name, change in VARIANTS.items():
                    context = browser.new_context(viewport={"width": 1280, "height": 800})
                    page = context.new_page()
                    change(page)
                    page.goto(f"{url}/#/searches/{search_id}")
                    page.wait_for_selector("body[data-ready=search]", timeout=120_000)
                    phases[name].append(page.evaluate(PHASES))
                    context.close()
        finally:
            browser.close()
    return phases


# --- the polls ----------------------------------------------------------------------------

def route_time(client: httpx.Client, route: str) -> tuple[float, int]:
    """The server's /metrics sum (s) and count of GET requests to a route."""
    total, count = 0.0, 0
    for line in client.get("/metrics").text.splitlines():
        if 'method="GET"' not in line or f'route="{route}"' not in line:
            continue
        value = float(line.rsplit(" ", 1)[1])
        if line.startswith("caviar_request_duration_seconds_sum"):
            total = value
        elif line.startswith("caviar_request_duration_seconds_count"):
            count = int(value)
    return total, count


def timed_gets(client: httpx.Client, path: str, params: dict, n: int, route: str
               ) -> tuple[float, float, float, int]:
    """Round trip p50 and p95 (ms), the server's mean time (ms), and the body size."""
    sum0, count0 = route_time(client, route)
    trips, size = [], 0
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(path, params=params)
        trips.append((time.perf_counter() - start) * 1e3)
        response.raise_for_status()
        size = len(response.content)
    sum1, count1 = route_time(client, route)
    if count1 - count0 != n:
        raise RuntimeError(f"/metrics counted {count1 - count0} requests to {route}, sent {n}")
    trips.sort()
    return (statistics.median(trips), trips[int(0.95 * (n - 1))], (sum1 - sum0) / n * 1e3,
            size)


def poll_bytes(client: httpx.Client, search_id: int, cursor: int) -> tuple[int, int, int]:
    """Items, body bytes and the new cursor of one `since` poll."""
    response = client.get(f"{API}/searches/{search_id}/trials", params={"since": cursor})
    response.raise_for_status()
    body = response.json()
    return len(body["items"]), len(response.content), body["cursor"]


# --- main ---------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3, help="cold page loads (each + a reload)")
    parser.add_argument("--polls", type=int, default=300)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--variants", type=int, default=0, metavar="RUNS",
                        help="also time RUNS cold loads of each variant with early drawing off")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder, database(args.database, Path(folder)) as url:
        # Leases outlive the page measurements, so the running trials stay running.
        server = start_server(url, Path(folder), env={
            "CAVIAR_MAX_TRIALS": str(args.trials + 100), "CAVIAR_LEASE_SECONDS": "3600"})
        try:
            return run(args, server.url, url)
        finally:
            server.stop()


def run(args: argparse.Namespace, base_url: str, database_url: str) -> int:
    client = httpx.Client(base_url=base_url, timeout=120)
    search = client.post(f"{API}/searches", json={
        **SPEC, "budget": {"max_trials": args.trials + 10, "max_parallel": 10},
        "fixed": {"epochs": args.epochs}}).raise_for_status().json()
    start = time.perf_counter()
    add_completed_trials(database_url, search["id"], args.trials, args.epochs)
    print(f"inserted {args.trials} completed trials x {args.epochs} epochs "
          f"in {time.perf_counter() - start:.1f} s ({args.database})")
    worker = SimulatedWorker(base_url, "bench/live")
    running = [worker.claim(search["id"]) for _ in range(RUNNING)]
    for trial in running:
        worker.report(trial)

    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"search page, 1280x800, headless Chromium (software WebGL), ms from navigation "
          f"(load average {load} on {os.cpu_count()} cores):")
    page = measure_page(base_url, search["id"], args.runs)
    plotly, cold, warm = (statistics.median(page[k]) for k in ("plotly", "cold", "warm"))
    print(f"  reference: vendored Plotly alone, load + evaluate   {plotly:7.0f}  (1.00x)")
    print(f"  first render, cold cache (median of {args.runs})         {cold:7.0f}  "
          f"({cold / plotly:.2f}x)   runs: {', '.join(f'{v:.0f}' for v in page['cold'])}")
    print(f"  first render, third load (warm cache)              {warm:7.0f}  "
          f"({warm / plotly:.2f}x)   runs: {', '.join(f'{v:.0f}' for v in page['warm'])}")
    print(f"  parallel coordinates, drawn on scroll              "
          f"{statistics.median(page['parallel']):7.0f}")
    print(f"  sort the trial table by value                      "
          f"{statistics.median(page['sort']):7.1f}")
    print(f"  the page's own polls while idle, body bytes: {sorted(set(page['poll_bytes']))}")

    if args.variants:
        print(f"variants, cold loads interleaved, median of {args.variants}, "
              "ms from navigation (data / ready):")
        for name, runs in measure_variants(base_url, search["id"], args.variants).items():
            data, ready = (statistics.median(p[k] for p in runs) for k in ("data", "ready"))
            print(f"  {name:38s} {data:6.0f} / {ready:6.0f}   ready runs: "
                  + ", ".join(f"{p['ready']:.0f}" for p in runs))

    search_id = search["id"]
    cursor = client.get(f"{API}/searches/{search_id}").json()["cursor"]
    health = timed_gets(client, "/healthz", {}, args.polls, "/healthz")
    empty = timed_gets(client, f"{API}/searches/{search_id}/trials", {"since": cursor},
                       args.polls, SINCE_ROUTE)
    full = timed_gets(client, f"{API}/searches/{search_id}/trials",
                      {"since": 0, "limit": 10_000}, 3, SINCE_ROUTE)
    one = timed_gets(client, f"{API}/searches/{search_id}", {}, args.polls // 3,
                     "/api/v1/searches/{search_id}")
    print(f"polls of search {search_id} ({args.trials + RUNNING} trials), ms "
          "(round trip p50 / p95, server mean; body bytes):")
    for label, (p50, p95, server, size) in [
            ("reference: GET /healthz", health), ("empty since poll", empty),
            ("GET /searches/{id} (each tick)", one), ("full load, since=0", full)]:
        print(f"  {label:34s} {p50:7.2f} / {p95:7.2f}  server {server:7.2f} "
              f"({server / health[2]:6.2f}x)  {size:>9,d} B")

    sizes = [("empty poll", 0, empty[3])]
    for trial in running:
        worker.report(trial)
    items, size, cursor = poll_bytes(client, search_id, cursor)
    sizes.append((f"after {RUNNING} reports", items, size))
    for trial in running:
        worker.complete(trial)
    extra = worker.run_trials(search_id, 4, epochs=2)
    items, size, cursor = poll_bytes(client, search_id, cursor)
    sizes.append((f"after {RUNNING} completes + {len(extra)} trials", items, size))
    sizes.append(("full load, since=0", args.trials + RUNNING + len(extra), full[3]))
    worker.close()
    print("poll payload grows with what changed:")
    for label, count, size in sizes:
        print(f"  {label:34s} {count:6d} items  {size:>10,d} B  "
              f"({size / full[3]:.5f} of the full load)")

    verdicts = [("interactive < 2 s (cold)", cold < 2000, f"{cold:.0f} ms"),
                ("interactive < 2 s (warm)", warm < 2000, f"{warm:.0f} ms"),
                ("empty poll < 10 ms (server)", empty[2] < 10, f"{empty[2]:.2f} ms"),
                ("empty poll < 10 ms (round trip p50)", empty[0] < 10, f"{empty[0]:.2f} ms")]
    print("targets:")
    for label, ok, figure in verdicts:
        print(f"  {'pass' if ok else 'FAIL'}  {label}: {figure}")
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
