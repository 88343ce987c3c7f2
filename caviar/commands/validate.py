"""`caviar validate`: check search specs offline, by the rules the server applies.

Each SPEC.yaml is read and checked with the server's own validation
(`domain.spec.parse_spec`, with the server's default `max_trials` limit) and
gets one line: `SPEC.yaml: ok (...)` with what the search will do, or one
`SPEC.yaml: field: rule` line per broken rule, worded as a server's 422.
Exit 0 when every spec is valid, 1 otherwise. A server may still refuse a valid
spec for what only it knows: a lower `max_trials` limit, an uploaded dataset id
it does not have.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from caviar.commands._spec import check_spec, read_spec
from caviar.errors import InvalidSpec, UsageError
from domain.spec import SearchSpec, UploadedDatasetSpec


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `validate` parser; its handler is `run`."""
    parser = subparsers.add_parser(
        "validate", help="check search specs offline, by the server's rules",
        description="Check each search spec with the server's own rules, without a server. "
        "Prints 'SPEC.yaml: ok (...)' with what the search will do, or one "
        "'SPEC.yaml: field: rule' line per broken rule, worded as the server's 422. Exit 0 "
        "when every spec is valid, 1 otherwise. A server may still refuse a valid spec for "
        "what only it knows: its max_trials limit (CAVIAR_MAX_TRIALS, 10000 by default), an "
        "uploaded dataset id it does not have.",
    )
    parser.add_argument("specs", type=Path, nargs="+", metavar="SPEC.yaml",
                        help="search spec files")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """One report per spec; 1 if any is invalid or unreadable."""
    invalid = 0
    for path in args.specs:
        try:
            spec = check_spec(read_spec(path))
        except InvalidSpec as error:
            invalid += 1
            for line in error.lines:
                print(f"{path}: {line}", flush=True)
        except UsageError as error:
            invalid += 1
            print(error, flush=True)
        else:
            print(f"{path}: ok ({summary(spec)})", flush=True)
    return 1 if invalid else 0


def summary(spec: SearchSpec) -> str:
    """What a valid spec searches, in a few words."""
    count = len(spec.parameters)
    dataset = (f"uploaded dataset {spec.dataset.id}"
               if isinstance(spec.dataset, UploadedDatasetSpec)
               else f"dataset {spec.dataset.name}")
    return (f"{count} parameter{'s' if count != 1 else ''}, sampler {spec.sampler.kind}, "
            f"early stopping {spec.early_stopping.kind}, up to {spec.budget.max_trials} "
            f"trials, {spec.objective.goal} {spec.objective.metric}, {dataset}")
