"""`caviar submit`: create a search from a YAML spec; `--watch` follows it live."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from caviar.commands._leaderboard import leaderboard
from caviar.commands._server import add_server_option, connect, reports_server_errors
from caviar.commands._spec import read_spec
from caviar.commands._watch import watch


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "submit", help="create a search from a YAML spec; --watch follows it live",
        description="Create a search from a YAML spec and print its id. With --watch, show "
        "a live progress line and end with the leaderboard; Ctrl-C stops watching and leaves "
        "the search running.",
    )
    parser.add_argument("spec", type=Path, metavar="SPEC.yaml", help="the search spec")
    add_server_option(parser)
    parser.add_argument("--watch", action="store_true", help="follow the search to its end")
    parser.add_argument("--top", type=int, default=10, help="leaderboard rows (default 10)")
    parser.set_defaults(run=run)


@reports_server_errors
def run(args: argparse.Namespace) -> int:
    spec = read_spec(args.spec)
    with connect(args) as client:
        search = client.create_search(spec)
        print(search["id"], flush=True)
        if not args.watch:
            return 0
        try:
            watcher = watch(client, search["id"])
        except KeyboardInterrupt:
            print(f"\nstopped watching; search {search['id']} keeps running "
                  f"(caviar status {search['id']})", file=sys.stderr)
            return 130
        print(leaderboard(watcher.search, watcher.trials.values(), top=args.top))
    return 0
