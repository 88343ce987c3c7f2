"""`caviar status`: the searches, or one search's counts and leaderboard."""

from __future__ import annotations

import argparse

from caviar.commands._leaderboard import (
    done_count,
    format_value,
    goal_of,
    leaderboard,
    mean_leaderboard,
    params_text,
    searches_table,
)
from caviar.commands._server import (
    add_server_option,
    check_search_id,
    connect,
    reports_server_errors,
)
from domain.lifecycle.states import TrialStatus


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "status", help="list searches, or show one search's counts and leaderboard",
        description="Without SEARCH: the searches, newest first. With SEARCH: its status, "
        "counts by trial state, best trial and leaderboard (once it has completed re-tests: "
        "each setting's runs, ranked by their mean, with the spread).",
    )
    parser.add_argument("search", type=int, nargs="?", metavar="SEARCH", help="a search id")
    add_server_option(parser)
    parser.add_argument("--top", type=int, default=10, help="leaderboard rows (default 10)")
    parser.add_argument("--limit", type=int, default=50, help="searches listed (default 50)")
    parser.set_defaults(run=run)


@reports_server_errors
def run(args: argparse.Namespace) -> int:
    check_search_id(args.search)
    with connect(args) as client:
        if args.search is None:
            page = client.list_searches(limit=args.limit)
            if not page["items"]:
                print("no searches yet")
            else:
                print(searches_table(page["items"]))
            return 0
        search = client.get_search(args.search)
        trials = client.list_trials(args.search, status=TrialStatus.COMPLETED)["items"]
        retested = any(trial.get("origin_trial_id") is not None for trial in trials)
        board = client.leaderboard(args.search, limit=args.top) if retested else None
    print(describe(search))
    print()
    print(leaderboard(search, trials, top=args.top) if board is None
          else mean_leaderboard(search, board))
    return 0


def describe(search: dict) -> str:
    """The search's header: name, status, progress, counts by state, best trial."""
    counts = search.get("counts") or {}
    metric, goal = goal_of(search)
    lines = [
        f"search {search['id']} {search['name']}: {search['status']}, "
        f"{done_count(search)}/{search.get('max_trials')} trials done",
        "  " + ", ".join(f"{state} {n}" for state, n in counts.items()),
        f"  objective: {goal} {metric}",
    ]
    best = search.get("best_trial")
    if best:
        lines.append(f"  best: trial #{best['number']} {metric} {format_value(best.get('value'))}"
                     f" ({params_text(best.get('params', {}))})")
    return "\n".join(lines)
