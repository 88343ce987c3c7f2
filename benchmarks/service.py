"""Speed of the server: the worker protocol over HTTP against Optuna's RDBStorage, and scale.

For each database (a fresh SQLite file, a fresh PostgreSQL database on
127.0.0.1:5432) this script:

1. starts `caviar serve --workers P` (P server processes: 1 on SQLite, one per
   CPU on PostgreSQL, unless --server-processes says) and runs N worker
   processes, each with one kept-alive HTTP connection (benchmarks/bench_http.py
   says why not httpx), through the full lifecycle of every trial of a search
   (claim, 5 reports, complete; no training), and prints trials per second and
   p50/p99 latency of each call;
2. runs the same number of trials through Optuna's RDBStorage on a fresh
   database of the same kind (N processes, one storage each as Optuna's docs
   advise for distributed runs; random sampler, 5 params, ask, 5 reports,
   tell) and prints Optuna's rate and the ratio Caviar/Optuna; steps 1 and 2
   alternate for --rounds rounds (3), and the target is judged on the median
   ratio, since a 2-core virtual machine's speed drifts by ±30% within minutes;
3. on a fresh database, bulk-inserts finished trials (with 5 per-epoch rows
   each) into the server's tables for a search created through the API, and
   measures claim latency (sequential, p50) at 1,000 and at 100,000 finished
   trials, alternating with claims of a small control search (which shows how
   much the shared machine itself drifted between the two), and the latency of
   a `since` poll that finds nothing new (client round trip p50, and the
   server's own time from its /metrics histogram).

It also prints CPU time per trial (worker processes, the server's processes,
and on PostgreSQL the database's), which the machine's other load disturbs less
than wall-clock rates, and which says where a 2-core machine's time goes. It ends
with a table of the targets of issue 3, pass or fail for each, and exits 1 if
any failed. Everything runs on loopback; every loop and wait is bounded.

    .venv/bin/python benchmarks/service.py [--database sqlite|postgres|both]
        [--workers 4] [--server-processes P] [--trials 500] [--rounds 3]
        [--compare-with CHECKOUT] [--tokens] [--stored 1000 100000] [--claims 300] [--polls 500]

`--compare-with` runs another checkout's server too in each round (say, the
commit before a change, from `git worktree add`), alternating which goes first,
and prints the median ratio of their trial rates. `--tokens` makes this
checkout's server require API tokens in the trial-rate rounds (its workers send
a worker token), so that with `--compare-with` the ratio includes what
authentication costs.

This file is named service.py, so it must not import the server package
(`import service` would find this script); it speaks HTTP and plain SQL only.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import statistics
import sys
import tempfile
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import sqlalchemy as sa
from bench_cpu import postgres_cpu  # this folder
from bench_http import JsonClient  # this folder
from bench_serve import ROOT, Served, caviar_server, fresh_database  # this folder
from bench_tables import SEARCHES, TRIALS  # this folder

API = "/api/v1"
EPOCHS = 5
PARAMETERS = {
    "learning_rate": {"type": "float", "low": 1e-4, "high": 1.0, "scale": "log"},
    "beta1": {"type": "float", "low": 0.9, "high": 0.999, "scale": "reverse_log"},
    "hidden_units": {"type": "int", "low": 50, "high": 100},
    "num_layers": {"type": "int", "low": 2, "high": 4},
    "batch_size": {"type": "choice", "values": [64, 128, 256, 512]},
}
SINCE_ROUTE = "/searches/{search_id}/trials"


# --- searches ------------------------------------------------------------------------------


def create_search(client: httpx.Client, name: str, max_trials: int, max_parallel: int) -> dict:
    """POST a search over the five benchmark parameters; return the Search."""
    spec = {
        "name": name,
        "dataset": "digits",
        "objective": {"metric": "dev_accuracy", "goal": "maximize"},
        "budget": {"max_trials": max_trials, "max_parallel": max_parallel, "max_attempts": 2},
        "sampler": {"kind": "random", "seed": 0},
        "early_stopping": {"kind": "none"},
        "parameters": PARAMETERS,
        "fixed": {"optimizer": "adam", "epochs": EPOCHS},
    }
    response = client.post(f"{API}/searches", json=spec)
    if response.status_code != 201:
        raise RuntimeError(f"POST /searches: {response.status_code} {response.text}")
    return response.json()


# --- statistics ----------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile of values (q in 0..100)."""
    return float(np.percentile(np.asarray(values), q))


@dataclass
class Run:
    """One timed run of many trials: how many, how long, and each call's latencies (ms)."""

    trials: int = 0
    seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=dict)
    client_cpu: float = 0.0
    server_cpu: float | None = None
    database_cpu: float | None = None

    @property
    def rate(self) -> float:
        """Trials per second."""
        return self.trials / self.seconds if self.seconds > 0 else 0.0


def gather(results: list[tuple[int, float, float, float, dict[str, list[float]]]]) -> Run:
    """A Run from the workers' (trials, start, end, cpu, latencies); wall: first start, last end."""
    run = Run(trials=sum(r[0] for r in results),
              seconds=max(r[2] for r in results) - min(r[1] for r in results),
              client_cpu=sum(r[3] for r in results))
    for *_, latencies in results:
        for call, values in latencies.items():
            run.latencies.setdefault(call, []).extend(values)
    return run


def run_processes(target, args_of: list[tuple]) -> list:
    """One spawned process per args tuple, released together by a barrier; their results.

    Each process gets (*args, ready, results): it waits on `ready` once set up and
    puts its result, or its traceback as a string, on `results`.
    """
    context = mp.get_context("spawn")
    ready, results = context.Barrier(len(args_of)), context.Queue()
    processes = [context.Process(target=target, args=(*args, ready, results))
                 for args in args_of]
    for process in processes:
        process.start()
    collected = []
    try:
        for _ in processes:
            outcome = results.get(timeout=600)
            if isinstance(outcome, str):
                raise RuntimeError(f"a benchmark worker failed:\n{outcome}")
            collected.append(outcome)
    finally:
        for process in processes:
            process.join(30)
            if process.is_alive():
                process.kill()
    return collected


# --- Caviar: simulated workers over HTTP ---------------------------------------------------


def caviar_worker(url: str, token: str | None, claim_keys: bool, search_id: int, index: int,
                  ready, results
                  ) -> None:
    """Claim, report 5 epochs and complete trials until the search has no more work."""
    try:
        rng = np.random.default_rng(index)
        latencies: dict[str, list[float]] = {"claim": [], "report": [], "complete": []}
        done = 0
        client = JsonClient(url, token=token)
        client.request("GET", "/healthz")
        ready.wait(120)
        start, cpu = time.perf_counter(), time.process_time()
        while True:
            t0 = time.perf_counter()
            claim = {"worker_id": f"bench/{index}", "search_id": search_id}
            if claim_keys:
                claim["claim_key"] = uuid.uuid4().hex
            status, assignment = client.post(f"{API}/trials/claim", claim)
            t1 = time.perf_counter()
            if status == 204:
                break
            _check(status, assignment, "claim")
            latencies["claim"].append((t1 - t0) * 1e3)
            trial = f"{API}/trials/{assignment['trial_id']}"
            token = assignment["lease_token"]
            accuracy = float(rng.uniform(0.5, 0.9))
            for epoch in range(EPOCHS):
                accuracy = min(1.0, accuracy + float(rng.uniform(0, 0.02)))
                metrics = {"train_loss": 1 - accuracy, "dev_loss": 1 - accuracy,
                           "dev_accuracy": accuracy, "learning_rate": 0.01, "seconds": 0.1}
                t0 = time.perf_counter()
                status, answer = client.post(f"{trial}/report", {
                    "lease_token": token, "epoch": epoch, "metrics": metrics})
                latencies["report"].append((time.perf_counter() - t0) * 1e3)
                _check(status, answer, "report")
            t0 = time.perf_counter()
            status, answer = client.post(f"{trial}/complete", {
                "lease_token": token,
                "metrics": {"dev_accuracy": accuracy, "dev_loss": 1 - accuracy}})
            latencies["complete"].append((time.perf_counter() - t0) * 1e3)
            _check(status, answer, "complete")
            done += 1
        end, cpu = time.perf_counter(), time.process_time() - cpu
        client.close()
        results.put((done, start, end, cpu, latencies))
    except BaseException:  # noqa: BLE001 - hand the traceback to the parent, which raises it
        results.put(traceback.format_exc())


def _check(status: int, body: object, call: str) -> None:
    if status != 200:
        raise RuntimeError(f"{call}: HTTP {status} {body}")


def caviar_lifecycle(server: Served, trials: int, workers: int, postgres: bool,
                     claim_keys: bool) -> Run:
    """N worker processes through every trial of a fresh search, after an untimed warm-up.

    With `claim_keys` each claim carries a key, as the real worker's do (servers before
    claim keys refuse the field)."""
    url = server.url
    token = server.token("worker")
    with httpx.Client(base_url=url, timeout=60, headers=server.headers("admin")) as client:
        warm = create_search(client, "bench-warmup", max_trials=2 * workers, max_parallel=workers)
        search = create_search(client, "bench-lifecycle", max_trials=trials, max_parallel=workers)
    run_processes(caviar_worker, [(url, token, claim_keys, warm["id"], index)
                                  for index in range(workers)])
    cpu_before = server.cpu_seconds()
    database_before = postgres_cpu() if postgres else 0.0
    run = gather(run_processes(caviar_worker,
                               [(url, token, claim_keys, search["id"], index)
                                for index in range(workers)]))
    run.server_cpu = server.cpu_seconds() - cpu_before
    if postgres:
        run.database_cpu = postgres_cpu() - database_before
    if run.trials != trials:
        raise RuntimeError(f"Caviar ran {run.trials} trials, expected {trials}")
    return run


# --- Optuna: the same trials through RDBStorage --------------------------------------------


def optuna_engine_kwargs(url: str) -> dict:
    """SQLite waits up to 60 s for the file lock (as the server's busy_timeout does), not 5 s."""
    return {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}


def optuna_worker(url: str, study_name: str, counter, index: int, ready, results) -> None:
    """Ask, report 5 steps and tell until the shared counter reaches the budget."""
    try:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        storage = optuna.storages.RDBStorage(url, engine_kwargs=optuna_engine_kwargs(url))
        study = optuna.load_study(study_name=study_name, storage=storage,
                                  sampler=optuna.samplers.RandomSampler(seed=index))
        rng = np.random.default_rng(index)
        done = 0
        ready.wait(120)
        start, cpu = time.perf_counter(), time.process_time()
        while True:
            with counter.get_lock():
                if counter.value <= 0:
                    break
                counter.value -= 1
            trial = study.ask()
            trial.suggest_float("learning_rate", 1e-4, 1.0, log=True)
            trial.suggest_float("beta1", 0.9, 0.999)
            trial.suggest_int("hidden_units", 50, 100)
            trial.suggest_int("num_layers", 2, 4)
            trial.suggest_categorical("batch_size", [64, 128, 256, 512])
            accuracy = float(rng.uniform(0.5, 0.9))
            for step in range(EPOCHS):
                accuracy = min(1.0, accuracy + float(rng.uniform(0, 0.02)))
                trial.report(accuracy, step)
            study.tell(trial, accuracy)
            done += 1
        end, cpu = time.perf_counter(), time.process_time() - cpu
        results.put((done, start, end, cpu, {}))
    except BaseException:  # noqa: BLE001 - hand the traceback to the parent, which raises it
        results.put(traceback.format_exc())


def optuna_lifecycle(database_url: str, trials: int, workers: int) -> Run:
    """N processes, one RDBStorage each, through `trials` trials of one study."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(database_url,
                                         engine_kwargs=optuna_engine_kwargs(database_url))
    optuna.create_study(storage=storage, study_name="bench", direction="maximize",
                        sampler=optuna.samplers.RandomSampler(seed=0))
    counter = mp.get_context("spawn").Value("i", trials)
    run = gather(run_processes(
        optuna_worker, [(database_url, "bench", counter, index) for index in range(workers)]))
    if run.trials != trials:
        raise RuntimeError(f"Optuna ran {run.trials} trials, expected {trials}")
    return run


# --- scale: claims and `since` polls with many finished trials -----------------------------

EPOCH_NUMBERS = " UNION ALL ".join(f"SELECT {epoch} AS epoch" for epoch in range(EPOCHS))
COPY_EPOCHS = sa.text(
    "INSERT INTO intermediate (trial_id, epoch, value, metrics, created_at) "
    "SELECT t.id, e.epoch, t.value, t.metrics, t.created_at "
    f"FROM trials t CROSS JOIN ({EPOCH_NUMBERS}) e "
    "WHERE t.search_id = :search_id AND t.number >= :low AND t.number < :high"
)


def add_finished_trials(database_url: str, search_id: int, upto: int, chunk: int = 5000) -> None:
    """Bulk-insert completed trials (5 epoch rows each) until the search holds `upto` trials.

    Does nothing if it holds that many already. Keeps the search row's counters,
    cursor and best trial as the server would.
    """
    rng = np.random.default_rng(upto)
    now = datetime.now(UTC).replace(tzinfo=None)
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as connection:
            search = connection.execute(
                sa.select(SEARCHES.c.n_trials, SEARCHES.c.last_seq)
                .where(SEARCHES.c.id == search_id)
            ).one()
            first, seq = search.n_trials, search.last_seq
            if upto <= first:
                return
            for low in range(first, upto, chunk):
                numbers = range(low, min(upto, low + chunk))
                values = rng.uniform(0.5, 1.0, len(numbers))
                connection.execute(TRIALS.insert(), [
                    {"search_id": search_id, "number": number,
                     "params": {"learning_rate": 10 ** rng.uniform(-4, 0), "beta1": 0.95,
                                "hidden_units": 64, "num_layers": 3, "batch_size": 128},
                     "round": 0, "status": "completed", "attempt": 1, "worker_id": "bulk/0",
                     "value": float(value), "metrics": {"dev_accuracy": float(value)},
                     "last_epoch": EPOCHS - 1, "seq": seq + 1 + i, "created_at": now,
                     "started_at": now, "finished_at": now}
                    for i, (number, value) in enumerate(zip(numbers, values, strict=True))
                ])
                seq += len(numbers)
                connection.execute(COPY_EPOCHS, {"search_id": search_id, "low": numbers.start,
                                                 "high": numbers.stop})
            best_id, best_value = connection.execute(
                sa.select(TRIALS.c.id, TRIALS.c.value).where(TRIALS.c.search_id == search_id)
                .order_by(TRIALS.c.value.desc()).limit(1)
            ).one()
            connection.execute(
                SEARCHES.update().where(SEARCHES.c.id == search_id).values(
                    n_trials=upto, count_completed=SEARCHES.c.count_completed + upto - first,
                    last_seq=seq, best_trial_id=best_id, best_value=best_value, updated_at=now)
            )
    finally:
        engine.dispose()


def claim_and_complete(client: httpx.Client, search_id: int) -> float:
    """One claim's latency (ms); the trial is completed at once (untimed)."""
    t0 = time.perf_counter()
    response = client.post(f"{API}/trials/claim",
                           json={"worker_id": "bench/scale", "search_id": search_id,
                                 "claim_key": uuid.uuid4().hex})
    latency = (time.perf_counter() - t0) * 1e3
    _check(response.status_code, response.text, "claim")
    assignment = response.json()
    response = client.post(f"{API}/trials/{assignment['trial_id']}/complete", json={
        "lease_token": assignment["lease_token"],
        "metrics": {"dev_accuracy": 0.5, "dev_loss": 0.5}})
    _check(response.status_code, response.text, "complete")
    return latency


def claim_latencies(client: httpx.Client, searches: list[int], claims: int
                    ) -> dict[int, list[float]]:
    """Sequential claims (ms) of each search in turn, `claims` per search.

    Alternating with a small control search shows how much of a change between
    two measurements is the machine's (shared CPUs) rather than the stored trials'.
    """
    latencies: dict[int, list[float]] = {search_id: [] for search_id in searches}
    for _ in range(claims):
        for search_id in searches:
            latencies[search_id].append(claim_and_complete(client, search_id))
    return latencies


def since_histogram(client: httpx.Client) -> tuple[dict[float, int], float, int]:
    """The server's latency histogram of GET .../trials: cumulative buckets, sum (s), count."""
    text = client.get("/metrics").text
    buckets: dict[float, int] = {}
    total_seconds, count = 0.0, 0
    for line in text.splitlines():
        if 'method="GET"' not in line or SINCE_ROUTE + '"' not in line:
            continue
        value = float(line.rsplit(" ", 1)[1])
        if line.startswith("caviar_request_duration_seconds_bucket"):
            bound = re.search(r'le="([^"]+)"', line).group(1)  # type: ignore[union-attr]
            buckets[float(bound)] = int(value)
        elif line.startswith("caviar_request_duration_seconds_sum"):
            total_seconds = value
        elif line.startswith("caviar_request_duration_seconds_count"):
            count = int(value)
    return buckets, total_seconds, count


@dataclass
class Poll:
    """Latency of `since` polls that find nothing new."""

    round_trip_p50: float
    server_mean: float
    server_p50_bound: float


def since_polls(client: httpx.Client, search_id: int, polls: int) -> Poll:
    """Repeat an empty `since` poll; client round trips and the server's own time (ms)."""
    cursor = client.get(f"{API}/searches/{search_id}").json()["cursor"]
    before, sum_before, count_before = since_histogram(client)
    round_trips = []
    for _ in range(polls):
        t0 = time.perf_counter()
        response = client.get(f"{API}/searches/{search_id}/trials",
                              params={"since": cursor})
        round_trips.append((time.perf_counter() - t0) * 1e3)
        _check(response.status_code, response.text, "since poll")
        if response.json()["items"]:
            raise RuntimeError(f"the since poll at cursor {cursor} found changes")
    after, sum_after, count_after = since_histogram(client)
    n = count_after - count_before
    if n != polls:
        raise RuntimeError(f"/metrics counted {n} since polls, expected {polls}")
    half = next(bound for bound in sorted(after)
                if after[bound] - before.get(bound, 0) >= polls / 2)
    return Poll(round_trip_p50=statistics.median(round_trips),
                server_mean=(sum_after - sum_before) / n * 1e3, server_p50_bound=half * 1e3)


@dataclass
class Scale:
    """Claim p50 (ms) of the growing search and of a small control search, and empty polls."""

    claim_p50: dict[int, float] = field(default_factory=dict)
    control_p50: dict[int, float] = field(default_factory=dict)
    polls: dict[int, Poll] = field(default_factory=dict)


def scale_run(kind: str, folder: Path, stored: list[int], claims: int, polls: int) -> Scale:
    """Claims and since polls on one fresh database as one search grows to each stored count."""
    scale = Scale()
    budget = max(stored) + claims * len(stored) + 10
    with fresh_database(kind, folder) as url, caviar_server(url, folder, budget) as server, \
            httpx.Client(base_url=server.url, timeout=60) as client:
        search = create_search(client, "bench-scale", max_trials=budget, max_parallel=8)["id"]
        control = create_search(client, "bench-control", max_trials=budget, max_parallel=8)["id"]
        claim_latencies(client, [search, control], 20)
        for count in stored:
            began = time.perf_counter()
            add_finished_trials(url, search, count)
            print(f"  inserted finished trials up to {count:,} in "
                  f"{time.perf_counter() - began:.1f} s", flush=True)
            latencies = claim_latencies(client, [search, control], claims)
            scale.claim_p50[count] = statistics.median(latencies[search])
            scale.control_p50[count] = statistics.median(latencies[control])
            scale.polls[count] = since_polls(client, search, polls)
            poll = scale.polls[count]
            print(f"  {count:>7,} stored: claim p50 {scale.claim_p50[count]:.2f} ms "
                  f"(control search: {scale.control_p50[count]:.2f} ms); "
                  f"empty since poll p50 {poll.round_trip_p50:.2f} ms round trip, "
                  f"server mean {poll.server_mean:.2f} ms, "
                  f"server p50 <= {poll.server_p50_bound:g} ms", flush=True)
    return scale


# --- the report ----------------------------------------------------------------------------


def describe(name: str, run: Run) -> None:
    """Print a run's rate and each call's p50/p99."""
    print(f"  {name}: {run.trials} trials in {run.seconds:.2f} s = {run.rate:.1f} trials/s")
    cpu = f"    CPU per trial: workers {run.client_cpu / run.trials * 1e3:.1f} ms"
    if run.server_cpu is not None:
        cpu += f", server {run.server_cpu / run.trials * 1e3:.1f} ms"
    if run.database_cpu is not None:
        cpu += f", PostgreSQL {run.database_cpu / run.trials * 1e3:.1f} ms"
    print(cpu)
    for call, values in run.latencies.items():
        print(f"    {call:<9} n={len(values):>5}  p50 {percentile(values, 50):6.2f} ms  "
              f"p99 {percentile(values, 99):6.2f} ms")


def bench_database(kind: str, args: argparse.Namespace, folder: Path) -> list[tuple]:
    """All measurements on one kind of database; rows for the summary table."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    processes = args.server_processes or (1 if kind == "sqlite" else os.cpu_count() or 1)
    print(f"\n== {kind}: {args.workers} workers, {args.trials} trials, caviar serve --workers "
          f"{processes} (load average {load} on {os.cpu_count()} CPUs) ==", flush=True)
    ratios, versus = [], []
    for number in range(1, args.rounds + 1):
        print(f" round {number} of {args.rounds}", flush=True)
        roots = [ROOT] if args.compare_with is None else [ROOT, args.compare_with]
        runs = {}
        for root in roots if number % 2 else roots[::-1]:
            with fresh_database(kind, folder) as url, caviar_server(
                    url, folder, max(args.trials, 10_000), processes, root,
                    tokens=args.tokens and root == ROOT) as server:
                run = caviar_lifecycle(server, args.trials, args.workers, kind == "postgres",
                                       claim_keys=root == ROOT)
            where = "" if root == ROOT else f" at {root}"
            describe(f"Caviar{where} (claim, 5 reports, complete over HTTP)", run)
            runs[root] = run
        caviar = runs[ROOT]
        if args.compare_with is not None:
            versus.append(caviar.rate / runs[args.compare_with].rate)
            print(f"  Caviar here / at {args.compare_with}: {versus[-1]:.2f}x", flush=True)
        with fresh_database(kind, folder) as url:
            optuna_run = optuna_lifecycle(url, args.trials, args.workers)
        describe("Optuna RDBStorage (ask, 5 reports, tell)", optuna_run)
        ratios.append(caviar.rate / optuna_run.rate)
        print(f"  Caviar / Optuna: {ratios[-1]:.2f}x", flush=True)
    ratio = statistics.median(ratios)
    print(f" Caviar / Optuna, median of {len(ratios)} rounds: {ratio:.2f}x "
          f"(rounds: {', '.join(f'{r:.2f}x' for r in ratios)})", flush=True)
    compared = []
    if versus:
        change = statistics.median(versus)
        print(f" Caviar here / at {args.compare_with}, median of {len(versus)} rounds: "
              f"{change:.2f}x (rounds: {', '.join(f'{r:.2f}x' for r in versus)})", flush=True)
        compared = [(kind, f"trial rate, here / {args.compare_with.name} (median of "
                     f"{len(versus)})", f"{change:.2f}x", ">= 0.9x", change >= 0.9)]
    scale = scale_run(kind, folder, args.stored, args.claims, args.polls)
    low, high = min(args.stored), max(args.stored)
    growth = scale.claim_p50[high] / scale.claim_p50[low]
    drift = scale.control_p50[high] / scale.control_p50[low]
    poll = scale.polls[high]
    return compared + [
        (kind, f"trial rate, Caviar / Optuna (median of {len(ratios)})", f"{ratio:.2f}x",
         ">= 5x", ratio >= 5),
        (kind, f"claim p50, {high:,} / {low:,} stored",
         f"{growth:.2f}x ({scale.claim_p50[high]:.2f} / {scale.claim_p50[low]:.2f} ms; "
         f"control {drift:.2f}x)",
         "<= 1.5x", growth <= 1.5),
        (kind, f"empty since poll p50 at {high:,} (round trip)",
         f"{poll.round_trip_p50:.2f} ms", "< 10 ms", poll.round_trip_p50 < 10),
    ]


def print_summary(rows: list[tuple]) -> None:
    """The targets table."""
    print("\n== summary ==")
    header = ("database", "measure", "value", "target", "result")
    table = [header] + [(k, m, v, t, "pass" if ok else "FAIL") for k, m, v, t, ok in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--workers", type=int, default=4, help="concurrent workers (processes)")
    parser.add_argument("--server-processes", type=int, default=None,
                        help="`caviar serve --workers` for the trial-rate run (default: 1 on "
                        "SQLite, whose writes take one file lock; one per CPU on PostgreSQL)")
    parser.add_argument("--trials", type=int, default=500, help="trials per lifecycle run")
    parser.add_argument("--rounds", type=int, default=3,
                        help="Caviar-then-Optuna rounds; the target uses the median ratio")
    parser.add_argument("--compare-with", type=Path, default=None, metavar="CHECKOUT",
                        help="another checkout of Caviar (e.g. `git worktree add /tmp/before "
                        "COMMIT`): each round also runs its server, alternating which goes "
                        "first, and the summary gives the median ratio of trial rates")
    parser.add_argument("--tokens", action="store_true",
                        help="this checkout's server requires tokens (workers send a worker "
                        "token); --compare-with's runs open, so the ratio shows what tokens cost")
    parser.add_argument("--stored", type=int, nargs="+", default=[1000, 100_000],
                        help="finished trials in the database when claims are timed")
    parser.add_argument("--claims", type=int, default=300, help="timed claims per stored count")
    parser.add_argument("--polls", type=int, default=500, help="timed since polls per count")
    args = parser.parse_args()
    for name in ("workers", "server_processes", "trials", "rounds", "claims", "polls"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')}: must be at least 1")
    if len(args.stored) < 2 or sorted(args.stored) != args.stored or args.stored[0] < 1:
        parser.error("--stored: give at least two increasing positive counts")
    if args.compare_with is not None:
        args.compare_with = args.compare_with.resolve()
        if not (args.compare_with / "caviar" / "__main__.py").is_file():
            parser.error(f"--compare-with: {args.compare_with} is not a checkout of Caviar "
                         "(no caviar/__main__.py)")
    return args


def main() -> int:
    """Run the benchmark on the chosen databases and print the summary."""
    args = parse_args()
    kinds = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    rows: list[tuple] = []
    with tempfile.TemporaryDirectory(prefix="caviar-bench-") as folder:
        for kind in kinds:
            rows += bench_database(kind, args, Path(folder))
    print_summary(rows)
    return 0 if all(row[-1] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
