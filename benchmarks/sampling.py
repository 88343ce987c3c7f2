"""Cost of choosing a trial: parsing a spec and each sampler's proposal, by history size.

The server samples under the search's lock on every claim, so a proposal's cost
bounds how fast one search hands out trials. For each sampler (the DESIGN.md
example space: 5 parameters; coarse_to_fine with rounds of 10) and histories of
0, 1,000 and 10,000 finished trials, prints the best-of-rounds CPU time of one
proposal and its ratio to a random proposal measured in the same run.

    .venv/bin/python -P benchmarks/sampling.py [--rounds 5] [--repeat 20]

(-P keeps benchmarks/ off sys.path, where benchmarks/service.py would hide the
`service` package.)
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from domain.space import Space
from domain.spec import parse_spec
from service.search.samplers import HistoryEntry, Sampler, make_sampler, trial_rng

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
            {"kind": "coarse_to_fine", "round_size": 10}]
HISTORIES = (0, 1_000, 10_000)


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
                        "completed", float(trial_rng(98, i).random()), i // round_size)
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


if __name__ == "__main__":
    main()
