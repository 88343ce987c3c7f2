"""Fleet throughput: the demo search with 1 and 2 worker processes on this machine.

For each fleet size it starts a fresh server (SQLite in a temporary folder, or
--database-url), submits the search, starts `caviar worker --processes N`, and
measures trials per minute from submission to completion. The workers measure
their own time split and print it when they stop: "training" is the share of
their busy time spent in the engine rather than waiting on HTTP and the
server's database (claiming, and waiting for an earlier trial's result to be
settled; reports and results are sent from a background thread while the engine
trains); "data s" is the time spent loading datasets (once per process), kept apart.

Reference, measured in the same run: the same trials trained back to back in
one process with one BLAS thread and no server at all; "vs engine" is the
fleet's trials per minute over that.

    .venv/bin/python benchmarks/fleet.py [--workload demo|long-epochs] [--sizes 1,2]

The demo search's epochs last a few milliseconds, shorter than a report's round
trip, which is why reports are batched; `long-epochs` (moons with 20,000
samples, ~0.1-0.2 s epochs) shows the split when an epoch's work dominates.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.update({"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})

import yaml  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from domain.protocol import BuiltinDatasetRef  # noqa: E402
from domain.training import TrainingConfig  # noqa: E402
from tests.support.processes import live_server  # noqa: E402
from worker.cache import DataCache  # noqa: E402
from worker.client import CaviarClient  # noqa: E402
from worker.nn.train import train  # noqa: E402


def run_fleet(spec: dict, processes: int, database_url: str | None, folder: Path) -> dict:
    """Run the search with N worker processes; trials/min and the workers' time split."""
    url = database_url or f"sqlite:///{folder / f'fleet-{processes}.db'}"
    log = folder / f"workers-{processes}.log"
    with live_server(url, folder) as server, CaviarClient(server.url) as client:
        started = time.monotonic()
        search = client.create_search(spec)
        workers = subprocess.Popen(
            [sys.executable, "-m", "caviar", "worker", "--server", server.url,
             "--processes", str(processes), "--search", str(search["id"])],
            stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=ROOT,
        )
        try:
            while client.get_search(search["id"])["status"] == "running":
                time.sleep(0.2)
            seconds = time.monotonic() - started
        finally:
            workers.send_signal(signal.SIGTERM)
            workers.wait(60)
        trials = client.list_trials(search["id"])["items"]
    stats = [json.loads(line.split("stats: ", 1)[1]) for line in log.read_text().splitlines()
             if "stats: " in line]
    training = sum(s["training"] for s in stats)
    overhead = sum(s["overhead"] for s in stats)
    data = sum(s["data"] for s in stats)
    return {
        "data_seconds": data,
        "processes": processes, "seconds": seconds,
        "trials_per_minute": 60 * len(trials) / seconds,
        "training_fraction": training / (training + overhead),
        "best": max(t["value"] for t in trials if t["value"] is not None),
        "params": [t["params"] for t in trials],
    }


LONG_EPOCHS = {
    "name": "moons-20k",
    "dataset": {"name": "moons", "options": {"n_samples": 20000, "noise": 0.2, "seed": 0}},
    "split": {"dev": 0.15, "test": 0.15, "seed": 0},
    "budget": {"max_trials": 12, "max_parallel": 8},
    "parameters": {
        "learning_rate": {"type": "float", "low": 1e-4, "high": 1.0, "scale": "log"},
        "batch_size": {"type": "choice", "values": [64, 128, 256]},
    },
    "fixed": {"optimizer": "adam", "batch_norm": True, "num_layers": 3, "hidden_units": 100,
              "epochs": 8},
}


def run_reference(spec: dict, params: list[dict]) -> float:
    """Trials per minute of the bare engine: the same trials, one after another."""
    dataset = spec["dataset"]
    ref = BuiltinDatasetRef(kind="builtin", name=dataset) if isinstance(dataset, str) else \
        BuiltinDatasetRef(kind="builtin", name=dataset["name"], options=dataset.get("options", {}))
    with CaviarClient("http://127.0.0.1:9") as offline:
        data = DataCache(offline).split(ref, spec.get("split") or {"dev": 0.15, "test": 0.15,
                                                                   "seed": 0})
    started = time.monotonic()
    for trial in params:
        config = TrainingConfig.from_dict({**spec["fixed"], **trial})
        train(config, data.X_train, data.y_train, data.X_dev, data.y_dev)
    return 60 * len(params) / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", choices=["demo", "long-epochs"], default="demo",
                        help="demo: examples/digits-adam-bn.yaml (default); long-epochs: "
                        "moons with 20,000 samples")
    parser.add_argument("--trials", type=int, default=None, help="override max_trials")
    parser.add_argument("--epochs", type=int, default=None, help="override fixed.epochs")
    parser.add_argument("--sizes", default="1,2", help="worker process counts (default 1,2)")
    parser.add_argument("--database-url", default=None, help="default: a SQLite file")
    args = parser.parse_args()
    spec = (yaml.safe_load((ROOT / "examples" / "digits-adam-bn.yaml").read_text())
            if args.workload == "demo" else LONG_EPOCHS)
    if args.trials:
        spec["budget"]["max_trials"] = args.trials
    if args.epochs:
        spec["fixed"]["epochs"] = args.epochs
    spec["budget"]["max_parallel"] = max(spec["budget"].get("max_parallel", 1), 8)
    print(f"search {spec['name']}: {spec['budget']['max_trials']} trials of "
          f"{spec['fixed']['epochs']} epochs; {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory(prefix="caviar-fleet-") as tmp:
        results = [run_fleet(spec, int(n), args.database_url, Path(tmp))
                   for n in args.sizes.split(",")]
    reference = run_reference(spec, results[0]["params"])
    print(f"\nreference (bare engine, 1 process, no server): {reference:.1f} trials/min")
    print(f"{'workers':>7}  {'seconds':>7}  {'trials/min':>10}  {'vs engine':>9}  "
          f"{'training':>8}  {'data s':>6}  {'best':>6}")
    for r in results:
        print(f"{r['processes']:>7}  {r['seconds']:>7.1f}  {r['trials_per_minute']:>10.1f}  "
              f"{r['trials_per_minute'] / reference:>8.2f}x  "
              f"{100 * r['training_fraction']:>7.1f}%  {r['data_seconds']:>6.2f}  "
              f"{r['best']:>6.4f}")


if __name__ == "__main__":
    main()
