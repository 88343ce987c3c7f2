"""`caviar submit`: create a search from a YAML spec; `--watch` follows it live.

The spec is checked here first, by the server's rules: a spec that breaks one is
not sent, and its errors are the lines the server's 422 would give. The server
stays the authority (its own `max_trials` limit, whether an uploaded dataset
exists): a spec that passes here is sent as written, and a 422 is still shown.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from caviar.commands._leaderboard import leaderboard
from caviar.commands._server import add_server_option, connect, reports_server_errors
from caviar.commands._signals import interrupt_on_ctrl_c
from caviar.commands._spec import check_spec, read_spec
from caviar.commands._watch import watch


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "submit", help="create a search from a YAML spec; --watch follows it live",
        description="Check a YAML spec by the server's rules (as caviar validate does), then "
        "create the search and print its id. With --watch, show a live progress line and end "
        "with the leaderboard; Ctrl-C stops watching and leaves the search running.",
    )
    parser.add_argument("spec", type=Path, metavar="SPEC.yaml", help="the search spec")
    add_server_option(parser)
    parser.add_argument("--watch", action="store_true", help="follow the search to its end")
    parser.add_argument("--top", type=int, default=10, help="leaderboard rows (default 10)")
    parser.set_defaults(run=run)


@reports_server_errors
def run(args: argparse.Namespace) -> int:
    spec = read_spec(args.spec)
    check_spec(spec)
    with connect(args) as client:
        search = client.create_search(spec)
        print(search["id"], flush=True)
        if not args.watch:
            return 0
        interrupt_on_ctrl_c()
        try:
            watcher = watch(client, search["id"])
        except KeyboardInterrupt:
            print(f"\nstopped watching; search {search['id']} keeps running "
                  f"(caviar status {search['id']})", file=sys.stderr)
            return 130
        print(leaderboard(watcher.search, watcher.trials.values(), top=args.top))
    return 0
