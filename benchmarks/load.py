"""Load: hundreds to thousands of simulated workers against `caviar serve` on PostgreSQL.

For each count of simulated workers (and each count of server processes) this script
makes a fresh PostgreSQL database on 127.0.0.1, starts `caviar serve --workers P` on a
free loopback port, creates searches sized to keep every worker busy for the whole run,
and runs the simulated workers (benchmarks/load_sim.py: the real worker's claim, batched
reports, heartbeats, complete and idle backoff, with seeded 1-5 s sleeps in place of
training) in one or two client processes for `--duration` seconds. At the deadline each
simulated worker gives its trial back, as a stopped worker does. It prints, per run:
calls per second; p50/p95/p99 of each worker route; errors by status and transport
errors; the server's and PostgreSQL's CPU (from /proc) and the clients' own; the run
database's backends by wait event (lock waits); and a check of the database against what
the clients were answered (benchmarks/load_check.py: every trial completed exactly once,
no epoch row lost or doubled, search counters equal a recount). A table of each route's
p99 and of the server's CPU in each tenth of the run sets the start (every worker's first
claim within `--ramp` seconds) apart from the steady state; the server's wait for a CPU
(/proc schedstat) says how much of its latency a busy machine caused.

The knee is the smallest count of simulated workers at which the p99 of some worker route
passes 100 ms; `--find-knee` bisects between the last count under it and the first over
it (`--knee-steps` more runs, 2 by default). The target (issue 14): 500 simulated workers
for 600 s on one server process: p99 < 100 ms on every worker route, no error, no trial
lost or double-counted; the script exits 1 if it is measured and missed, or if any run's
check fails.

The simulated workers share the machine with the server and PostgreSQL (on the 2-core
benchmark machine, their CPU is taken from the server: the report gives it, and the event
loop's lag, which inflates latencies measured by a busy client). Each holds one
connection: the client raises its RLIMIT_NOFILE to the hard limit, and the server needs
one descriptor per connection too (the report reads its limit from /proc).

Everything is bounded: at most 5,000 simulated workers and 3,600 s per run, 4 bisection
steps; only loopback addresses (the database's host too, else it refuses).

    .venv/bin/python benchmarks/load.py --workers-sim 100 500 2000 --duration 600
        [--server-processes 1 2] [--client-processes 1|2] [--find-knee [--knee-steps 2]]
        [--searches 4] [--ramp SECONDS]
        [--epochs 10] [--epoch-seconds 1 5] [--heartbeats interval|worker] [--json PATH]

This folder's service.py shadows the server package, which this script must not import:
it speaks HTTP and plain SQL only.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import numpy as np
from bench_serve import (  # this folder
    POSTGRES_ADMIN_URL,
    caviar_server,
    fresh_database,
    is_loopback_url,
)
from load_check import Checked, check  # this folder
from load_probe import Probe  # this folder
from load_sim import HARD_MARGIN, ClientResult, SimConfig, client_process  # this folder

API = "/api/v1"
ROUTES = ("claim", "report", "heartbeat", "complete")  # the worker routes judged
P99_LIMIT_MS = 100.0
TARGET_WORKERS, TARGET_SECONDS, TARGET_SERVERS = 500, 600.0, 1
MAX_WORKERS, MAX_SECONDS, MAX_KNEE_STEPS = 5000, 3600.0, 4
PARAMETERS = {
    "learning_rate": {"type": "float", "low": 1e-4, "high": 1.0, "scale": "log"},
    "hidden_units": {"type": "int", "low": 50, "high": 100},
    "batch_size": {"type": "choice", "values": [64, 128, 256, 512]},
}


@dataclass
class Outcome:
    """One run's figures, for the summary table, the knee and `--json`."""

    workers: int
    server_processes: int
    client_processes: int
    seconds: float
    calls_per_second: float
    p99_ms: dict[str, float]
    p99_after_ramp_ms: dict[str, float]  # calls started once every worker had started
    errors: int
    consistent: bool
    server_cpu_share: float  # of one core, over the run
    server_wait_share: float  # runnable but waiting for a CPU, of the run's wall time
    loop_busy_share: float  # time in the server's handlers over the run (1 process: exact)
    postgres_cpu_share: float  # every PostgreSQL process
    database_cpu_share: float  # the run database's backends
    client_cpu_share: float
    loop_lag_p99_ms: float
    completed: int
    load_average: float  # the 1-minute load average at the run's end
    problems: dict[str, int] = field(default_factory=dict)

    @property
    def worst(self) -> tuple[str, float]:
        """The worker route with the highest p99, and that p99 (ms)."""
        measured = {route: p for route, p in self.p99_ms.items() if route in ROUTES}
        route = max(measured, key=measured.__getitem__, default="none")
        return route, measured.get(route, math.nan)

    @property
    def under_knee(self) -> bool:
        """p99 of every worker route under the limit."""
        return self.worst[1] < P99_LIMIT_MS

    @property
    def meets_target(self) -> bool:
        return self.under_knee and self.errors == 0 and self.consistent


# --- one run -------------------------------------------------------------------------------


def spec(name: str, max_trials: int, max_parallel: int, epochs: int) -> dict:
    """A search the simulated workers run: random sampler, no early stopping."""
    return {
        "name": name, "dataset": "digits",
        "objective": {"metric": "dev_accuracy", "goal": "maximize"},
        "budget": {"max_trials": max_trials, "max_parallel": max_parallel, "max_attempts": 3},
        "sampler": {"kind": "random", "seed": 0}, "early_stopping": {"kind": "none"},
        "parameters": PARAMETERS, "fixed": {"optimizer": "adam", "epochs": epochs},
    }


def trials_per_search(args: argparse.Namespace, workers: int) -> int:
    """Enough trials that no search runs out before the deadline, even if every epoch took
    the shortest time."""
    fastest = args.epochs * args.epoch_seconds[0]
    needed = workers * (math.ceil((args.duration + args.ramp) / fastest) + 1)
    return math.ceil(needed * 1.1 / args.searches) + workers


def run_clients(config: SimConfig, names: list[str], processes: int) -> ClientResult:
    """The simulated workers in `processes` spawned processes, released together; their
    results merged."""
    context = mp.get_context("spawn")
    ready, results = context.Barrier(processes), context.Queue()
    children = [context.Process(target=client_process,
                                args=(config, names[k::processes], ready, results))
                for k in range(processes)]
    for child in children:
        child.start()
    merged = ClientResult()
    try:
        for _ in children:
            got = results.get(timeout=config.duration + config.ramp + HARD_MARGIN + 120)
            if isinstance(got, str):
                raise RuntimeError(f"a client process failed:\n{got}")
            merge(merged, got)
    finally:
        for child in children:
            child.join(30)
            if child.is_alive():
                child.kill()
    return merged


def merge(into: ClientResult, other: ClientResult) -> None:
    """Add one client process's result to another's."""
    into.workers += other.workers
    into.start = min(into.start, other.start)
    into.calls += other.calls
    for mine, theirs in ((into.latencies, other.latencies), (into.started, other.started),
                         (into.shutdown, other.shutdown)):
        for route, values in theirs.items():
            mine.setdefault(route, values[:0]).extend(values)
    into.statuses.update(other.statuses)
    into.errors.update(other.errors)
    into.batch_sizes.update(other.batch_sizes)
    into.attempts += other.attempts
    into.reconnects += other.reconnects
    into.loop_lag_ms.extend(other.loop_lag_ms)
    into.cpu_seconds += other.cpu_seconds


def server_file_limit(pid: int) -> int | None:
    """The server process's soft RLIMIT_NOFILE, from /proc."""
    try:
        for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                return int(line.split()[3])
    except (OSError, ValueError, IndexError):
        return None
    return None


def one_run(args: argparse.Namespace, workers: int, servers: int, folder: Path) -> Outcome:
    """Run `workers` simulated workers against `servers` server processes; print the report."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n== {workers} simulated workers, {servers} server process(es), "
          f"{args.client_processes} client process(es), {args.duration:g} s "
          f"(load average {load} on {os.cpu_count()} CPUs) ==", flush=True)
    per_search = trials_per_search(args, workers)
    parallel = math.ceil(workers / args.searches)
    with fresh_database("postgres", folder) as url, caviar_server(
            url, folder, max(10_000, per_search), servers) as server:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            ids = [http.post(f"{API}/searches", json=spec(f"load-{n}", per_search, parallel,
                                                          args.epochs)).json()["id"]
                   for n in range(args.searches)]
        print(f"  {args.searches} searches of {per_search:,} trials (max_parallel {parallel}), "
              f"{args.epochs} epochs of {args.epoch_seconds[0]:g}-{args.epoch_seconds[1]:g} s, "
              f"heartbeats: {args.heartbeats}; start spread over {args.ramp:g} s", flush=True)
        low, high = args.epoch_seconds
        config = SimConfig(url=server.url, duration=args.duration, ramp=args.ramp,
                           epochs=args.epochs, epoch_seconds=(low, high),
                           heartbeats=args.heartbeats, seed=args.seed)
        names = [f"load/{n}" for n in range(workers)]
        with Probe(POSTGRES_ADMIN_URL, url.rsplit("/", 1)[1], server.pid,
                   server.url) as probe:
            result = run_clients(config, names, args.client_processes)
        limit = server_file_limit(server.pid)
        checked = check(url, ids, result.attempts)
    outcome = summarize(args, workers, servers, result, probe, checked)
    report(result, probe, checked, outcome, limit)
    return outcome


# --- the report ----------------------------------------------------------------------------


def pct(values: object, q: float) -> float:
    array = np.asarray(values)
    return float(np.percentile(array, q)) if array.size else math.nan


def summarize(args: argparse.Namespace, workers: int, servers: int, result: ClientResult,
              probe: Probe, checked: Checked) -> Outcome:
    seconds = args.duration
    return Outcome(
        workers=workers, server_processes=servers, client_processes=args.client_processes,
        seconds=seconds, calls_per_second=result.calls / seconds,
        p99_ms={route: pct(values, 99) for route, values in result.latencies.items()},
        p99_after_ramp_ms={
            route: pct(np.asarray(values)[np.asarray(result.started[route]) >= args.ramp], 99)
            for route, values in result.latencies.items()},
        errors=sum(result.errors.values()), consistent=checked.ok,
        server_cpu_share=probe.server_cpu / seconds,
        server_wait_share=probe.server_wait / seconds,
        loop_busy_share=probe.handler_seconds / seconds,
        postgres_cpu_share=probe.postgres_cpu / seconds,
        database_cpu_share=probe.database_cpu / seconds,
        client_cpu_share=result.cpu_seconds / seconds,
        loop_lag_p99_ms=pct(result.loop_lag_ms, 99),
        completed=checked.states["completed"], load_average=os.getloadavg()[0],
        problems={kind: len(texts) for kind, texts in checked.problems.items() if texts})


def report(result: ClientResult, probe: Probe, checked: Checked, outcome: Outcome,
           server_limit: int | None) -> None:
    """Print one run's figures."""
    by_route: Counter[str] = Counter()
    for (route, _), count in result.statuses.items():
        by_route[route] += count
    print(f"  calls: {result.calls:,} in {outcome.seconds:g} s = "
          f"{outcome.calls_per_second:.1f} calls/s ("
          + ", ".join(f"{route} {by_route[route]:,}" for route in (*ROUTES, "fail")
                      if by_route[route]) + ")")
    sizes = ", ".join(f"{size}: {count:,}" for size, count in sorted(result.batch_sizes.items()))
    print(f"  epochs per report request: {sizes or 'none'}; reconnects after the server closed "
          f"an idle connection: {result.reconnects:,}")
    print(f"  {'route':<22}{'calls':>8}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}  (ms)")
    for book in (result.latencies, result.shutdown):
        for route in sorted(book):
            values = book[route]
            print(f"  {route:<22}{len(values):>8,}{pct(values, 50):>9.2f}{pct(values, 95):>9.2f}"
                  f"{pct(values, 99):>9.2f}{max(values):>9.2f}")
    print_over_time(result, probe, outcome.seconds)
    errors = ", ".join(f"{route} {kind}: {count}" for (route, kind), count in
                       sorted(result.errors.items()))
    print(f"  errors: {errors or 'none'}")
    calls = max(1, result.calls)
    print(f"  CPU, share of one core: server {outcome.server_cpu_share:.0%} "
          f"({probe.server_cpu / calls * 1e3:.2f} ms/call), PostgreSQL "
          f"{outcome.postgres_cpu_share:.0%} (all processes; the run database's backends "
          f"{outcome.database_cpu_share:.0%}, {probe.database_cpu / calls * 1e3:.2f} ms/call), "
          f"clients {outcome.client_cpu_share:.0%} (event loop lag p99 "
          f"{outcome.loop_lag_p99_ms:.1f} ms)")
    print(f"  the server waited for a CPU (runnable, not running) "
          f"{probe.server_wait / outcome.seconds:.0%} of the run (/proc/PID/task/*/schedstat)")
    if outcome.server_processes == 1:
        print(f"  the server's handlers held its event loop {outcome.loop_busy_share:.0%} of the "
              f"run (/metrics: time answering, waits on PostgreSQL and for a CPU included)")
    print(f"  PostgreSQL: {probe.waits.line()}")
    print(f"  open files: the server's soft limit {server_limit}, it needs about one per "
          f"simulated worker ({outcome.workers:,}) plus its database pools")
    for line in checked.lines():
        print(f"  {line}")
    route, p99 = outcome.worst
    after = ", ".join(f"{r} {outcome.p99_after_ramp_ms[r]:.1f}" for r in ROUTES
                      if r in outcome.p99_after_ramp_ms)
    print(f"  worst worker-route p99: {route} {p99:.1f} ms; after the start spread (ms): "
          f"{after}", flush=True)


def print_over_time(result: ClientResult, probe: Probe, seconds: float, parts: int = 10
                    ) -> None:
    """p99 of each route, and the server's and the database backends' CPU, in each tenth of
    the run: the start (the workers' first claims) apart from the steady state."""
    edges = np.linspace(0, seconds, parts + 1)
    print(f"  p99 (ms) by tenth of the run ({seconds / parts:g} s each):")
    for route in sorted(result.latencies):
        part = np.minimum(np.searchsorted(edges, np.asarray(result.started[route]), "right") - 1,
                          parts - 1)
        values = np.asarray(result.latencies[route])
        cells = [pct(values[part == k], 99) for k in range(parts)]
        print(f"    {route:<20}" + "".join(f"{cell:>8.0f}" for cell in cells))
    shares = probe.shares(result.start, seconds, parts)
    for name, index in (("server CPU %", 0), ("db backends CPU %", 1),
                        ("server CPU wait %", 2)):
        print(f"    {name:<20}" + "".join(f"{share[index] * 100:>8.0f}" for share in shares))


def print_summary(outcomes: list[Outcome]) -> None:
    print("\n== summary ==")
    header = ("workers", "servers", "clients", "seconds", "calls/s", "worst p99 (ms)",
              "errors", "completed", "check", "server CPU (wait)", "PG CPU (db)",
              "client CPU", "loop lag p99", "load")
    rows = [header]
    for o in outcomes:
        route, p99 = o.worst
        rows.append((str(o.workers), str(o.server_processes), str(o.client_processes),
                     f"{o.seconds:g}", f"{o.calls_per_second:.1f}", f"{p99:.1f} {route}",
                     str(o.errors), str(o.completed), "OK" if o.consistent else "FAILED",
                     f"{o.server_cpu_share:.0%} ({o.server_wait_share:.0%})",
                     f"{o.postgres_cpu_share:.0%} ({o.database_cpu_share:.0%})",
                     f"{o.client_cpu_share:.0%}", f"{o.loop_lag_p99_ms:.1f} ms",
                     f"{o.load_average:.1f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))


def knee_lines(outcomes: list[Outcome]) -> list[str]:
    """Per count of server processes: between which counts the worst p99 passes 100 ms."""
    lines = []
    for servers in sorted({o.server_processes for o in outcomes}):
        runs = sorted((o for o in outcomes if o.server_processes == servers),
                      key=lambda o: o.workers)
        under = [o.workers for o in runs if o.under_knee]
        over = [o.workers for o in runs if not o.under_knee]
        low = max((w for w in under if not over or w < min(over)), default=None)
        high = min(over, default=None)
        where = ("not reached" if high is None else
                 f"at or below {high}" if low is None else f"between {low} and {high}")
        lines.append(f"knee ({servers} server process(es)): p99 of a worker route passes "
                     f"{P99_LIMIT_MS:g} ms {where} simulated workers (tried "
                     f"{', '.join(str(o.workers) for o in runs)})")
    return lines


def target_line(outcomes: list[Outcome]) -> tuple[str, bool | None]:
    """The issue's target: its verdict line, and pass/fail (None when not measured)."""
    runs = [o for o in outcomes if o.workers == TARGET_WORKERS
            and o.server_processes == TARGET_SERVERS and o.seconds >= TARGET_SECONDS]
    what = (f"target: {TARGET_WORKERS} workers for {TARGET_SECONDS:g} s on {TARGET_SERVERS} "
            f"server process: p99 < {P99_LIMIT_MS:g} ms on every worker route, 0 errors, "
            "0 trials lost or double-counted")
    if not runs:
        return f"{what}: not measured in this invocation", None
    o = runs[-1]
    route, p99 = o.worst
    verdict = "pass" if o.meets_target else "FAIL"
    return (f"{what}: {verdict} (worst p99 {p99:.1f} ms on {route}; {o.errors} errors; "
            f"check {'OK' if o.consistent else 'FAILED'})"), o.meets_target


# --- the runs ------------------------------------------------------------------------------


def bisect_knee(args: argparse.Namespace, outcomes: list[Outcome], servers: int,
                folder: Path) -> None:
    """Run counts between the last under the knee and the first over it."""
    for _ in range(args.knee_steps):
        runs = [o for o in outcomes if o.server_processes == servers]
        over = [o.workers for o in runs if not o.under_knee]
        if not over:
            return
        high = min(over)
        low = max((o.workers for o in runs if o.under_knee and o.workers < high), default=0)
        middle = (low + high) // 2
        if high - low <= max(10, low // 10) or middle in {o.workers for o in runs}:
            return
        outcomes.append(one_run(args, middle, servers, folder))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers-sim", type=int, nargs="+", default=[100, 500, 2000],
                        help="counts of simulated workers: one run each")
    parser.add_argument("--duration", type=float, default=TARGET_SECONDS,
                        help="seconds per run (the target's run is 600)")
    parser.add_argument("--server-processes", type=int, nargs="+", default=[1],
                        help="`caviar serve --workers`: runs each count with each of these")
    parser.add_argument("--client-processes", type=int, choices=(1, 2), default=1)
    parser.add_argument("--find-knee", action="store_true",
                        help="bisect between the counts under and over the knee")
    parser.add_argument("--knee-steps", type=int, default=2,
                        help=f"at most this many bisection runs (at most {MAX_KNEE_STEPS})")
    parser.add_argument("--searches", type=int, default=4,
                        help="searches the workers share (each max_parallel workers/searches)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs per trial")
    parser.add_argument("--epoch-seconds", type=float, nargs=2, default=[1.0, 5.0],
                        metavar=("LOW", "HIGH"), help="each epoch lasts U(LOW, HIGH) seconds")
    parser.add_argument("--heartbeats", choices=("interval", "worker"), default="interval",
                        help="interval: every heartbeat interval; worker: only when nothing "
                        "extended the lease for the interval, as caviar worker does")
    parser.add_argument("--ramp", type=float, default=None,
                        help="seconds over which workers start (default: 10%% of the "
                        "duration, at most 30)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="write the runs' figures here")
    args = parser.parse_args(argv)
    if not all(1 <= n <= MAX_WORKERS for n in args.workers_sim):
        parser.error(f"--workers-sim: each between 1 and {MAX_WORKERS}")
    if not 1 <= args.duration <= MAX_SECONDS:
        parser.error(f"--duration: between 1 and {MAX_SECONDS:g} s")
    if not all(1 <= n <= 8 for n in args.server_processes):
        parser.error("--server-processes: each between 1 and 8")
    if not 0 <= args.knee_steps <= MAX_KNEE_STEPS:
        parser.error(f"--knee-steps: between 0 and {MAX_KNEE_STEPS}")
    if not 1 <= args.searches <= 100 or not 1 <= args.epochs <= 1000:
        parser.error("--searches: 1 to 100; --epochs: 1 to 1000")
    low, high = args.epoch_seconds
    if not 0.01 <= low <= high <= 600:
        parser.error("--epoch-seconds: 0.01 <= LOW <= HIGH <= 600")
    args.ramp = min(30.0, args.duration / 10) if args.ramp is None else args.ramp
    if not 0 <= args.ramp <= args.duration:
        parser.error("--ramp: between 0 and the duration")
    if not is_loopback_url(POSTGRES_ADMIN_URL):
        parser.error(f"CAVIAR_BENCH_POSTGRES must name a loopback host, not "
                     f"{POSTGRES_ADMIN_URL.split('@')[-1]}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Every run, then the summary, the knee and the target; 1 if the target was missed or a
    check failed."""
    args = parse_args(argv)
    began = time.monotonic()
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="caviar-load-") as folder:
        for servers in args.server_processes:
            for workers in sorted(set(args.workers_sim)):
                outcomes.append(one_run(args, workers, servers, Path(folder)))
            if args.find_knee:
                bisect_knee(args, outcomes, servers, Path(folder))
    print_summary(outcomes)
    lines = knee_lines(outcomes)
    verdict, met = target_line(outcomes)
    for line in [*lines, verdict]:
        print(line)
    print(f"(all runs: {time.monotonic() - began:.0f} s)")
    if args.json is not None:
        args.json.write_text(json.dumps({
            "runs": [{**asdict(o), "worst": o.worst} for o in outcomes],
            "knee": lines, "target": verdict, "target_met": met}, indent=1))
    return 1 if met is False or not all(o.consistent for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
