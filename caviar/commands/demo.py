"""`caviar demo`: the whole system on this machine, with nothing set up.

Starts `caviar serve` on a free local port with a SQLite file in a temporary
folder, starts worker processes, submits the example search, follows it to the
end, prints the leaderboard and the best trial's test accuracy; then stops
everything (or, with --keep, prints the dashboard's address and leaves it up until
Ctrl-C).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from caviar.commands._demo_spec import DEMO_SPEC_YAML
from caviar.commands._leaderboard import format_value, goal_of, leaderboard, params_text
from caviar.commands._local import LocalFleet
from caviar.commands._server import reports_server_errors
from caviar.commands._signals import interrupt_on_ctrl_c
from caviar.commands._spec import check_spec, read_spec
from caviar.commands._watch import watch
from caviar.errors import UsageError
from worker.client import CaviarClient

QUICK = {"max_trials": 8, "epochs": 8}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo", help="run server, workers and the example search on this machine",
        description="Start a server (SQLite in a temporary folder) and workers on this "
        "machine, run the example search to its end, print the leaderboard, the best "
        "trial's test accuracy, then stop everything (--keep: leave the dashboard up).",
    )
    parser.add_argument("--keep", action="store_true",
                        help="leave the server and workers up until Ctrl-C")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--spec", type=Path, default=None,
                        help="search spec (default: examples/digits-adam-bn.yaml, built in)")
    parser.add_argument("--quick", action="store_true",
                        help=f"a smaller search: {QUICK['max_trials']} trials of "
                        f"{QUICK['epochs']} epochs")
    parser.set_defaults(run=run, server="(demo)")


def quick_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """The same search with fewer trials and epochs."""
    budget = {**(spec.get("budget") or {}), "max_trials": QUICK["max_trials"]}
    fixed = {**(spec.get("fixed") or {}), "epochs": QUICK["epochs"]}
    parameters = {k: v for k, v in spec["parameters"].items() if k != "epochs"}
    return {**spec, "budget": budget, "fixed": fixed, "parameters": parameters}


@reports_server_errors
def run(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise UsageError(f"--workers: must be at least 1, got {args.workers}")
    spec = read_spec(args.spec) if args.spec else yaml.safe_load(DEMO_SPEC_YAML)
    check_spec(spec)
    if args.quick:
        spec = quick_spec(spec)
    interrupt_on_ctrl_c(signal.SIGTERM)  # SIGTERM too: both stop the demo cleanly
    folder = Path(tempfile.mkdtemp(prefix="caviar-demo-"))
    fleet = LocalFleet(folder)
    started = time.monotonic()
    try:
        print(f"starting the server on {fleet.url} (SQLite in {folder}) and "
              f"{args.workers} workers ...", flush=True)
        fleet.start_server()
        fleet.start_workers(args.workers)
        with CaviarClient(fleet.url) as client:
            search = client.create_search(spec)
            print(f"search {search['id']} {search['name']}: {search['max_trials']} trials; "
                  f"watch it live at {fleet.url}/#/searches/{search['id']}", flush=True)
            watcher = watch(client, search["id"])
            print()
            print(leaderboard(watcher.search, watcher.trials.values()))
            _print_best(client, watcher.search)
        print(f"\nfinished in {time.monotonic() - started:.0f} s")
        if args.keep:
            print(f"dashboard: {fleet.url}/")
            print("the server and workers keep running; Ctrl-C stops them", flush=True)
            _wait_for_ctrl_c()
        else:
            print("the server and workers stop now; `caviar demo --keep` leaves them and the "
                  "dashboard up")
    except KeyboardInterrupt:
        print("\ninterrupted; stopping the server and workers", file=sys.stderr)
        return 130
    finally:
        fleet.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


def _print_best(client: CaviarClient, search: dict[str, Any]) -> None:
    from caviar.commands._retrain import retrain_best

    best = search.get("best_trial")
    if not best:
        print("\nno trial completed")
        return
    metric, _ = goal_of(search)
    print(f"\nbest trial #{best['number']}: {metric} {format_value(best['value'])}")
    print(f"  params: {params_text(best['params'])}")
    retrained = retrain_best(client, search, best)
    print(f"  retrained here with the same seed: dev accuracy "
          f"{retrained.dev_accuracy:.4f}, test accuracy {retrained.test_accuracy:.4f} "
          "(the test split, used once, for this trial only)")


def _wait_for_ctrl_c() -> None:
    while True:
        time.sleep(3600)
