"""Cost of choosing a trial: parsing a spec and each sampler's proposal, by history size.

The server samples under the search's lock on every claim, so a proposal's cost
bounds how fast one search hands out trials. For each sampler (the DESIGN.md
example space: 5 parameters; coarse_to_fine with rounds of 10) and histories of
0, 1,000 and 10,000 finished trials, prints the best-of-rounds CPU time of one
proposal and its ratio to a random proposal measured in the same run.

Then TPE's cost (its budget: under 50 ms at 10,000 finished trials) on mixed
spaces of 3 and 8 parameters (floats on log and reverse_log scales, ints,
choices), multivariate and per parameter, at 100, 1,000 and 10,000 finished
trials, each against a random proposal in the same space. TPE fits g(x) to at
most `service.search.tpe.MAX_BAD` trials; `--tpe-max-bad 0` lifts the cap, to
see what it saves.

Last, a whole claim through the server's store on SQLite (the history read and
decoded, the proposal, the new trial written) in a search of 10,000 finished
trials: the first claim of a server process (its history read whole) and the
next ones (only the trials changed since: service.store.history), TPE against
random in the same run.

    .venv/bin/python -P benchmarks/sampling.py [--rounds 5] [--repeat 20] [--tpe-max-bad N]

(-P keeps benchmarks/ off sys.path, where benchmarks/service.py would hide the
`service` package.)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

from sqlalchemy import insert, update

from domain.lifecycle.states import TrialStatus
from domain.space import Space
from domain.spec import parse_spec
from service.db.migrate import upgrade_to_head
from service.db.models import Search, Trial, utcnow
from service.db.session import Database
from service.search import tpe
from service.search.samplers import HistoryEntry, Sampler, make_sampler, trial_rng
from service.store.lifecycle import Lifecycle
from service.store.searches import create_search

SPEC = {
    "name": "bench",
    "dataset": "digits",
    "budget": {"max_trials": 10_000},
    "parameters": {
        "learning_rate": {"type": "float", "low": 1e-4, "high": 1.0, "scale": "log"},
        "beta1": {"type": "float", "low": 0.9, "high": 0.999, "scale": "reverse_log"},
        "hidden_units": {"type": "int", "low": 50, "high": 100},
        "num_layers": {"type": "int", "low": 2, "high": 4},
        "batch_size": {"type": "choice", "values": [64, 128, 256, 512]},
    },
    "fixed": {"optimizer": "adam", "batch_norm": True, "epochs": 20},
}
SAMPLERS = [{"kind": "random"}, {"kind": "grid"}, {"kind": "sobol"},
            {"kind": "coarse_to_fine", "round_size": 10}, {"kind": "tpe"}]
HISTORIES = (0, 1_000, 10_000)
MIXED = {  # the first 3 are the 3-parameter space, all 8 the 8-parameter one
    "learning_rate": {"type": "float", "low": 1e-4, "high": 1.0, "scale": "log"},
    "num_layers": {"type": "int", "low": 2, "high": 4},
    "batch_size": {"type": "choice", "values": [64, 128, 256, 512]},
    "beta1": {"type": "float", "low": 0.9, "high": 0.999, "scale": "reverse_log"},
    "beta2": {"type": "float", "low": 0.99, "high": 0.9999, "scale": "reverse_log"},
    "hidden_units": {"type": "int", "low": 16, "high": 512, "scale": "log"},
    "activation": {"type": "choice", "values": ["relu", "tanh", "sigmoid"]},
    "l2": {"type": "float", "low": 1e-6, "high": 1e-1, "scale": "log"},
}
TPE_HISTORIES = (100, 1_000, 10_000)


def best_cpu_seconds(action: Callable[[], object], rounds: int, repeat: int) -> float:
    """The best, over rounds, of the mean CPU time of `repeat` calls."""
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(repeat):
            action()
        best = min(best, (time.process_time() - start) / repeat)
    return best


def history_of(space: Space, n: int, round_size: int) -> list[HistoryEntry]:
    """n finished trials with random params and values, in rounds of round_size."""
    return [HistoryEntry(i, space.from_unit(trial_rng(99, i).random(len(space.dims))),
                        TrialStatus.COMPLETED, float(trial_rng(98, i).random()), i // round_size)
            for i in range(n)]


def proposal(
    sampler: Sampler, space: Space, history: list[HistoryEntry], seed: int
) -> Callable[[], object]:
    """One proposal as the server makes it: a fresh generator for the next trial number."""
    return lambda: sampler.sample(space, history, trial_rng(seed, len(history)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--tpe-max-bad", type=int, default=tpe.MAX_BAD,
                        help="the most trials TPE fits g(x) to; 0: all of them")
    args = parser.parse_args()

    parse = best_cpu_seconds(lambda: parse_spec(SPEC), args.rounds, args.repeat)
    print(f"parse_spec (5 parameters, 3 fixed keys): {parse * 1e3:.2f} ms")
    results = {}
    for sampler_spec in SAMPLERS:
        spec = parse_spec({**SPEC, "sampler": sampler_spec})
        space, sampler = Space.from_spec(spec.parameters), make_sampler(spec)
        for n in HISTORIES:
            history = history_of(space, n, sampler_spec.get("round_size", 10))
            results[sampler_spec["kind"], n] = best_cpu_seconds(
                proposal(sampler, space, history, spec.sampler.seed), args.rounds, args.repeat
            )
    reference = results["random", 0]
    print("one proposal, CPU ms (ratio to random with an empty history)")
    print(f"{'sampler':<15}" + "".join(f"{f'history {n}':>22}" for n in HISTORIES))
    for sampler_spec in SAMPLERS:
        kind = sampler_spec["kind"]
        cells = "".join(f"{results[kind, n] * 1e3:12.3f} ({results[kind, n] / reference:5.1f}x)"
                        for n in HISTORIES)
        print(f"{kind:<15}{cells}")
    tpe_table(args.rounds, args.repeat, args.tpe_max_bad)
    claim_table(args.repeat)


def tpe_table(rounds: int, repeat: int, max_bad: int) -> None:
    """TPE's proposal on the mixed spaces, and its ratio to random's in the same space."""
    tpe.MAX_BAD = max_bad or sys.maxsize
    cap = f"g fitted to at most {max_bad} trials" if max_bad else "no cap"
    print(f"\nTPE ({cap}), one proposal, CPU ms (ratio to random in the same space and history)")
    print(f"{'space':<32}" + "".join(f"{f'history {n}':>22}" for n in TPE_HISTORIES))
    for size in (3, 8):
        parameters = dict(list(MIXED.items())[:size])
        space = Space.from_spec(parse_spec({**SPEC, "parameters": parameters}).parameters)
        histories = {n: history_of(space, n, 10) for n in TPE_HISTORIES}
        rows = {}
        for label, sampler_spec in [("random", {"kind": "random"}),
                                    ("tpe", {"kind": "tpe"}),
                                    ("tpe per parameter", {"kind": "tpe", "multivariate": False})]:
            sampler = make_sampler(parse_spec({**SPEC, "parameters": parameters,
                                               "sampler": sampler_spec}))
            rows[label] = [best_cpu_seconds(proposal(sampler, space, histories[n], 0),
                                            rounds, repeat) for n in TPE_HISTORIES]
        for label, times in rows.items():
            cells = "".join(f"{t * 1e3:13.3f} ({t / r:5.0f}x)"
                            for t, r in zip(times, rows["random"], strict=True))
            print(f"{f'{size} parameters, {label}':<32}{cells}")


def claim_table(repeat: int, finished: int = 10_000) -> None:
    """CPU of a claim in a search of `finished` trials through the store, on SQLite."""
    print(f"\na claim through the store (SQLite, {finished} finished trials), CPU ms")
    print(f"{'sampler':<10}{'first claim':>14}{'next claims (median)':>24}")
    for kind in ("random", "tpe"):
        with tempfile.TemporaryDirectory() as folder:
            db = Database(f"sqlite:///{folder}/bench.db")
            upgrade_to_head(db.write_engine)
            spec = parse_spec({**SPEC, "parameters": MIXED, "sampler": {"kind": kind},
                               "budget": {"max_trials": finished + repeat + 1,
                                          "max_parallel": repeat + 1}})
            search_id = create_search(db, spec).search.id
            _finished_trials(db, search_id, Space.from_spec(spec.parameters), finished)
            store = Lifecycle(db, 60)
            times = []
            for _ in range(repeat + 1):
                start = time.process_time()
                store.claim("bench", search_id)
                times.append(time.process_time() - start)
            db.dispose()
        print(f"{kind:<10}{times[0] * 1e3:14.1f}{statistics.median(times[1:]) * 1e3:24.1f}")


def _finished_trials(db: Database, search_id: int, space: Space, n: int) -> None:
    """n completed trials of the search, written at once, as the server would count them."""
    now = utcnow()
    rows = [{"search_id": search_id, "number": entry.number, "params": entry.params,
             "round": 0, "status": entry.status, "attempt": 1, "value": entry.value,
             "seq": entry.number + 1, "created_at": now}
            for entry in history_of(space, n, 10)]
    searches = Search.__table__
    with db.write_engine.begin() as connection:
        connection.execute(insert(Trial.__table__), rows)
        connection.execute(update(searches).where(searches.c.id == search_id).values(
            n_trials=n, count_completed=n, last_seq=n))


if __name__ == "__main__":
    main()
