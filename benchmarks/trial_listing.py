"""Server cost of the dashboard's full load, `GET /searches/{id}/trials?since=0`, at 10,000 trials.

In process (FastAPI TestClient, no network), on a fresh SQLite file or
PostgreSQL database holding one search with N trials (completed ones with
params and metrics, some failed with a unicode error, some running with a
lease), this script times:

- the full load `since=0&limit=N` and a page `limit=N&order=value` through the app;
- an empty `since` poll (the cursor of the search);
- as reference, in the same run, a straightforward serialization of the same
  trials: every column selected with SQLAlchemy Core (JSON columns decoded),
  one dict per trial with `datetime.isoformat` timestamps, and the stdlib json
  encoding that `JSONResponse` does.

It prints the best and median wall-clock and process CPU time of each, the
ratio to the reference, and checks that each body parses to the reference's items.

    .venv/bin/python -P benchmarks/trial_listing.py [--trials 10000] [--runs 7]
        [--database sqlite|postgres]

(-P keeps benchmarks/ off sys.path, where benchmarks/service.py would hide the
`service` package.)
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from service.app import create_app  # noqa: E402
from service.db.models import Search, Trial  # noqa: E402
from service.settings import Settings  # noqa: E402
from tests.support.databases import database  # noqa: E402

API = "/api/v1"
SPEC = {
    "name": "listing-benchmark",
    "dataset": "digits",
    "objective": {"metric": "dev_accuracy", "goal": "maximize"},
    "budget": {"max_trials": 10_000},
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
TRIAL_COLUMNS = [c for c in Trial.__table__.columns if c.name != "lease_token"]


def trial_rows(search_id: int, n: int) -> list[dict[str, Any]]:
    """N trials as the server keeps them: mostly completed, some failed, a few running."""
    rng = random.Random(0)
    start = datetime(2026, 11, 29, 12, 0, 0, 123456)
    rows = []
    for number in range(n):
        created = start + timedelta(seconds=number * 1.7, microseconds=rng.randrange(10**6))
        finished = created + timedelta(seconds=rng.uniform(5, 60))
        accuracy = rng.uniform(0.5, 0.99)
        row: dict[str, Any] = {
            "search_id": search_id, "number": number, "round": 0, "attempt": 1,
            "params": {"learning_rate": 10 ** rng.uniform(-4, 0),
                       "beta1": 1 - 10 ** rng.uniform(-3, -1),
                       "hidden_units": rng.randint(50, 100), "num_layers": rng.randint(2, 4),
                       "batch_size": rng.choice([64, 128, 256, 512])},
            "worker_id": f"node-{number % 8}/{1000 + number % 13}", "seq": number + 1,
            "created_at": created, "started_at": created + timedelta(seconds=1),
            "status": "completed", "value": accuracy, "last_epoch": 19,
            "finished_at": finished, "lease_expires_at": None, "error": None,
            "stop_reason": None, "lease_token": None,
            "metrics": {"dev_accuracy": accuracy, "dev_loss": 1 - accuracy,
                        "train_accuracy": min(1.0, accuracy + 0.01), "epochs": 20,
                        "seconds": finished.timestamp() - created.timestamp(),
                        "samples_per_second": rng.uniform(1e4, 1e5)},
        }
        if number % 50 == 7:
            row.update(status="failed", value=None, metrics=None, last_epoch=3,
                       error=f"ValueError: perte non finie – ε={rng.random()} (epoch 3)")
        elif number >= n - 3:
            row.update(status="running", metrics=None, finished_at=None,
                       lease_token="t" * 32, lease_expires_at=finished)
        rows.append(row)
    return rows


def fill(database_url: str, search_id: int, n: int) -> None:
    """Insert the trials (Core, the models' column types) and set the search's cursor."""
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.insert(Trial.__table__), trial_rows(search_id, n))
            connection.execute(sa.update(Search.__table__).where(Search.id == search_id)
                               .values(last_seq=n, n_trials=n))
    finally:
        engine.dispose()


def reference_body(engine: sa.Engine, search_id: int) -> bytes:
    """The straightforward serialization: decoded rows, dicts, isoformat, stdlib json."""
    def iso(moment: datetime | None) -> str | None:
        return None if moment is None else moment.isoformat(timespec="milliseconds") + "Z"

    with engine.connect() as connection:
        rows = connection.execute(sa.select(*TRIAL_COLUMNS).where(Trial.search_id == search_id)
                                  .order_by(Trial.seq)).all()
    items = []
    for row in rows:
        item = dict(row._mapping)
        for name in ("lease_expires_at", "created_at", "started_at", "finished_at"):
            item[name] = iso(item[name])
        items.append(item)
    body = {"items": items, "cursor": rows[-1].seq, "has_more": False}
    return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def timed(work: Callable[[], bytes], runs: int) -> tuple[list[float], list[float], bytes]:
    """Wall-clock and process CPU seconds of each run, and the last result."""
    walls, cpus = [], []
    result = b""
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        result = work()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return walls, cpus, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, database(args.database, Path(folder)) as url:
        settings = Settings.from_env({}, database_url=url)
        with TestClient(create_app(settings)) as client:
            created = client.post(f"{API}/searches", json=SPEC)
            assert created.status_code == 201, created.text
            search_id = created.json()["id"]
            fill(url, search_id, args.trials)
            route = f"{API}/searches/{search_id}/trials"
            engine = sa.create_engine(url)
            cases: dict[str, Callable[[], bytes]] = {
                "reference (decode, dicts, json)": lambda: reference_body(engine, search_id),
                "since=0": lambda: client.get(
                    route, params={"since": 0, "limit": args.trials}).content,
                "page, order=value": lambda: client.get(
                    route, params={"limit": args.trials, "order": "value"}).content,
                "empty since poll": lambda: client.get(
                    route, params={"since": args.trials}).content,
            }
            results = {name: timed(work, args.runs) for name, work in cases.items()}
            engine.dispose()
    print(f"{args.trials} trials on {args.database}; {args.runs} runs each; ms "
          "(ratio of the best to the reference's best)")
    print(f"{'case':34} {'wall best':>9} {'median':>7} {'cpu best':>9} {'ratio':>6} {'bytes':>8}")
    reference_best = min(results["reference (decode, dicts, json)"][0])
    for name, (walls, cpus, body) in results.items():
        print(f"{name:34} {min(walls) * 1e3:9.1f} {statistics.median(walls) * 1e3:7.1f} "
              f"{min(cpus) * 1e3:9.1f} {min(walls) / reference_best:6.2f} {len(body):8d}")
    expected = json.loads(results["reference (decode, dicts, json)"][2])["items"]
    by_value = sorted(expected, key=lambda t: (t["value"] is None, -(t["value"] or 0),
                                               t["number"]))
    assert json.loads(results["since=0"][2])["items"] == expected, "since=0 differs"
    assert json.loads(results["page, order=value"][2])["items"] == by_value, "page differs"
    print("bodies parse to the reference's items")
    return 0


if __name__ == "__main__":
    sys.exit(main())
