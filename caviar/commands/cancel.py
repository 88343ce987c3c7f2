"""`caviar cancel`: stop a search: no more trials are handed out, running ones stop."""

from __future__ import annotations

import argparse

from caviar.commands._leaderboard import done_count
from caviar.commands._server import (
    add_server_option,
    check_search_id,
    connect,
    reports_server_errors,
)
from domain.lifecycle.states import TrialStatus


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "cancel", help="cancel a search",
        description="Cancel a search: pending trials are cancelled, running ones are told to "
        "stop at their next report or heartbeat.",
    )
    parser.add_argument("search", type=int, metavar="SEARCH", help="a search id")
    add_server_option(parser)
    parser.set_defaults(run=run)


@reports_server_errors
def run(args: argparse.Namespace) -> int:
    check_search_id(args.search)
    with connect(args) as client:
        search = client.cancel_search(args.search)
    running = (search.get("counts") or {}).get(TrialStatus.RUNNING, 0)
    print(f"search {search['id']} {search['name']}: {search['status']} "
          f"({done_count(search)} trials done, {running} running told to stop)")
    return 0
