"""`caviar gradcheck`: check the engine's backprop against numerical gradients.

Builds a small float64 network on seeded random data, optionally trains it a
few steps (METHODS.md section 3: check at random initialization and again
after some training), compares backprop with two-sided differences for every
parameter, prints one row per parameter and the overall verdict, and exits 1
when the overall relative difference is above 1e-5.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from caviar.errors import UsageError
from domain.training import ACTIVATIONS
from worker.nn import gradcheck, optimizers
from worker.nn.network import Architecture, Network

FAIL_ABOVE = gradcheck.LOOK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the gradcheck parser."""
    parser = subparsers.add_parser(
        "gradcheck",
        help="check the engine's backprop against numerical gradients",
        description="Compare backprop with two-sided differences (eps = 1e-7, float64) on a "
        "small network and random data; exit 1 if the overall relative difference is "
        "above 1e-5. Verdicts: fine < 1e-7 <= look at it <= 1e-5 < suspect <= 1e-3 < bug.",
    )
    parser.add_argument("--layers", default="5,4,3", help="hidden layer sizes (default 5,4,3)")
    parser.add_argument("--features", default="4", help="input features (default 4)")
    parser.add_argument("--classes", default="3", help="classes K >= 2 (default 3; "
                        "2 uses a sigmoid output)")
    parser.add_argument("--samples", default="8", help="examples in the batch (default 8)")
    parser.add_argument("--activation", default="tanh",
                        help="hidden activation: " + ", ".join(ACTIVATIONS)
                        + " (default tanh: smooth, so any difference is backprop's)")
    parser.add_argument("--batch-norm", action="store_true", help="batch norm in hidden layers")
    parser.add_argument("--l2", default="0", help="L2 strength lambda >= 0 (default 0)")
    parser.add_argument("--steps", default="0",
                        help="Adam steps on the batch before checking (default 0: check at "
                        "initialization)")
    parser.add_argument("--seed", default="0", help="seed of weights and data (default 0)")
    parser.set_defaults(run=run)


def _integer(flag: str, text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"{flag}: must be an integer >= {low}, got {text!r}") from None
    if value < low:
        raise UsageError(f"{flag}: must be an integer >= {low}, got {value}")
    return value


def _layers(text: str) -> tuple[int, ...]:
    parts = [part.strip() for part in text.split(",")]
    try:
        sizes = tuple(int(part) for part in parts)
    except ValueError:
        raise UsageError(f"--layers: must be comma-separated integers >= 1, got {text!r}") from None
    if any(size < 1 for size in sizes):
        raise UsageError(f"--layers: must be comma-separated integers >= 1, got {text!r}")
    return sizes


def _l2(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"--l2: must be a finite number >= 0, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"--l2: must be a finite number >= 0, got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    """Build the network, run the check, print the table; 1 if the overall verdict fails."""
    if args.activation not in ACTIVATIONS:
        raise UsageError(f"--activation: must be one of {', '.join(ACTIVATIONS)}, "
                         f"got {args.activation!r}")
    arch = Architecture(
        n_features=_integer("--features", args.features, 1),
        hidden=_layers(args.layers),
        n_classes=_integer("--classes", args.classes, 2),
        activation=args.activation,
        batch_norm=args.batch_norm,
        l2=_l2(args.l2),
    )
    samples = _integer("--samples", args.samples, 2)
    steps = _integer("--steps", args.steps, 0)
    seed = _integer("--seed", args.seed, 0)

    rng = np.random.default_rng(seed)
    network = Network(arch, rng, dtype=np.float64)
    X = rng.standard_normal((samples, arch.n_features))
    y = rng.integers(0, arch.n_classes, samples)
    optimizer = optimizers.Adam(learning_rate=0.01)
    for _ in range(steps):
        network.train_step(X, y)
        optimizer.step([network.flat_params], [network.flat_grads])
    result = gradcheck.check_gradients(network, X, y)
    _print_table(result)
    if result.kinks:
        print(f"note: {result.kinks} {arch.activation} inputs lie within "
              f"{gradcheck.KINK_TOLERANCE:g} of the kink at 0, where the two-sided difference "
              "is unreliable; try another --seed, wider --layers or --activation tanh")
    return 1 if result.difference > FAIL_ABOVE else 0


def _print_table(result: gradcheck.GradientCheck) -> None:
    rows = [(p.name, "x".join(map(str, p.shape)), f"{p.difference:.2e}", p.verdict)
            for p in result.parameters]
    rows.append(("overall", "", f"{result.difference:.2e}", result.verdict))
    header = ("parameter", "shape", "relative difference", "verdict")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    for index, row in enumerate([header, *rows]):
        if index == len(rows):
            print("  ".join("-" * w for w in widths))
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
