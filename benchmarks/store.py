"""The lifecycle's store alone: CPU per trial, without HTTP.

Runs trials through the server's store (service.store: claim, 5 reports,
complete) in one thread on a fresh SQLite file and a fresh PostgreSQL database
(as the tests make them), the latter through its fast path and through the
portable store (`postgres-portable`), and prints for each the wall and CPU
time per trial. This is
the part of a call's cost that the database layer owns;
`benchmarks/service.py` measures the whole server over HTTP.

    .venv/bin/python -m benchmarks.store [--database sqlite|postgres|postgres-portable|all]
        [--trials 400] [--profile]

Run it as a module from the repository root: the root is then on sys.path
(for `tests.support`), and benchmarks/ is not, where benchmarks/service.py
would hide the `service` package. `--profile` prints the functions taking the
most CPU (cProfile on CPU time) for each database.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from domain.spec import parse_spec
from service.db.migrate import upgrade_to_head
from service.db.session import Database
from service.store import open_lifecycle
from service.store.lifecycle import Lifecycle
from service.store.searches import create_search
from tests.service.helpers import make_spec
from tests.support.databases import database

# The tests' small spec (2 parameters, 5 epochs): the sampler's cost is not what this measures.
SPEC = make_spec(name="bench-store", budget={"max_trials": 10_000, "max_parallel": 8,
                                            "max_attempts": 2})
EPOCHS = SPEC["fixed"]["epochs"]


@contextmanager
def opened(kind: str, folder: Path) -> Iterator[Database]:
    """The server's Database on a fresh database of the kind, schema at head."""
    with database(kind, folder) as url:
        db = Database(url)
        upgrade_to_head(db.write_engine)
        try:
            yield db
        finally:
            db.dispose()


def one_trial(store: Lifecycle, search_id: int) -> None:
    """Claim, report EPOCHS epochs and complete one trial."""
    claimed = store.claim("bench/0", search_id)
    assert claimed is not None and claimed.trial.id is not None
    trial_id, token = claimed.trial.id, claimed.trial.lease_token or ""
    for epoch in range(EPOCHS):
        metrics: dict[str, float | None] = {"dev_accuracy": 0.5 + epoch / 100,
                                            "dev_loss": 0.5 - epoch / 100}
        store.report(trial_id, token, [(epoch, metrics)])
    store.complete(trial_id, token, {"dev_accuracy": 0.55, "dev_loss": 0.45})


def measure(kind: str, trials: int, profile: bool, folder: Path) -> None:
    """Print the per-trial figures of one database."""
    with opened(kind.removesuffix("-portable"), folder) as db:
        store = open_lifecycle(db, lease_seconds=60, fast_path=not kind.endswith("-portable"))
        search_id = create_search(db, parse_spec(SPEC)).search.id
        for _ in range(50):  # warm-up: caches, prepared statements, the pool
            one_trial(store, search_id)
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(trials):
            one_trial(store, search_id)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"{kind:>17}: {wall / trials * 1e3:.2f} ms wall, {cpu / trials * 1e3:.2f} ms CPU "
              f"per trial ({2 + EPOCHS} calls)", flush=True)
        if profile:
            profiler = cProfile.Profile(time.process_time)
            profiler.enable()
            for _ in range(trials):
                one_trial(store, search_id)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(20)


def main() -> None:
    """Measure the chosen databases."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="all",
                        choices=("sqlite", "postgres", "postgres-portable", "all"))
    parser.add_argument("--trials", type=int, default=400)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if args.trials < 1:
        parser.error("--trials: must be at least 1")
    kinds = (["sqlite", "postgres", "postgres-portable"] if args.database == "all"
             else [args.database])
    with tempfile.TemporaryDirectory(prefix="caviar-bench-store-") as folder:
        for kind in kinds:
            measure(kind, args.trials, args.profile, Path(folder))


if __name__ == "__main__":
    main()
