"""`caviar retest`: train a search's best trials again with new seeds (METHODS.md §4), so that
`caviar status` ranks their settings by the mean of the runs rather than one lucky run."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import Any

from caviar.commands._leaderboard import format_value, goal_of, params_text
from caviar.commands._server import (
    add_server_option,
    check_search_id,
    connect,
    reports_server_errors,
)

SEED = "seed"
"""The training key a re-test changes (DESIGN.md, "Training keys")."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "retest", help="train a search's best trials again with new seeds",
        description="Train the search's best TOP completed trials again, SEEDS times each, "
        "with new seeds: new trials that workers take before any other. A completed search "
        "runs again. `caviar status SEARCH` then ranks each setting by the mean of its runs, "
        "with the spread.",
    )
    parser.add_argument("search", type=int, metavar="SEARCH", help="a search id")
    parser.add_argument("--top", type=int, default=3,
                        help="how many of the best trials (1 to 50, default 3)")
    parser.add_argument("--seeds", type=int, default=5,
                        help="new seeds for each of them (1 to 50, default 5)")
    add_server_option(parser)
    parser.set_defaults(run=run)


@reports_server_errors
def run(args: argparse.Namespace) -> int:
    check_search_id(args.search)
    with connect(args) as client:
        answer = client.retest(args.search, args.top, args.seeds)
        origin_ids = dict.fromkeys(trial["origin_trial_id"] for trial in answer["trials"])
        origins = [client.get_trial(origin_id) for origin_id in origin_ids]
    print(created_text(answer, origins))
    return 0


def created_text(answer: Mapping[str, Any], origins: Sequence[Mapping[str, Any]]) -> str:
    """What was created: the search's budget, raised by the re-tests, then for each trial
    re-tested (of `origins`) its new trials' numbers and seeds."""
    search, trials = answer["search"], answer["trials"]
    metric, _ = goal_of(search)
    raised_from = search["max_trials"] - len(trials)
    lines = [f"search {search['id']} {search['name']}: {search['status']}, max_trials "
             f"{raised_from} -> {search['max_trials']}, {len(trials)} re-tests pending"]
    for origin in origins:
        runs = ", ".join(f"#{trial['number']} (seed {trial['params'][SEED]})"
                         for trial in trials if trial["origin_trial_id"] == origin["id"])
        lines.append(f"  trial #{origin['number']} {metric} {format_value(origin['value'])} "
                     f"({params_text(origin['params'])}): {runs}")
    return "\n".join(lines)
