"""`caviar worker`: worker processes that pull trials from a server and train them."""

from __future__ import annotations

import argparse

from caviar.commands._server import add_server_option, check_search_id
from caviar.errors import UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "worker", help="run worker processes that pull trials from a server and train them",
        description="Run N worker processes (one BLAS thread each) that claim trials, train "
        "them, report every epoch and complete them, until stopped (SIGTERM/Ctrl-C: the "
        "running trial is given back at once; a second signal exits at once).",
    )
    add_server_option(parser)
    parser.add_argument("--processes", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--search", type=int, default=None, metavar="ID",
                        help="only claim trials of this search")
    parser.add_argument("--worker-id", default=None, metavar="NAME",
                        help="worker id (default host/pid; with N processes NAME/i)")
    parser.add_argument("--max-trials", type=int, default=None, metavar="K",
                        help="exit after K trials (per process)")
    parser.add_argument("--idle-exit", type=float, default=None, metavar="SECONDS",
                        help="exit after the server has had no work for this long "
                             "(time the server is unavailable does not count)")
    parser.add_argument("--verbose", action="store_true", help="log every epoch")
    parser.set_defaults(run=run)


def _check(args: argparse.Namespace) -> None:
    if args.processes < 1:
        raise UsageError(f"--processes: must be at least 1, got {args.processes}")
    if args.max_trials is not None and args.max_trials < 1:
        raise UsageError(f"--max-trials: must be at least 1, got {args.max_trials}")
    if args.idle_exit is not None and args.idle_exit < 0:
        raise UsageError(f"--idle-exit: must be 0 or more seconds, got {args.idle_exit}")
    check_search_id(args.search, "--search")
    if not args.server.startswith(("http://", "https://")):
        raise UsageError(f"--server: must be an http:// or https:// URL, got {args.server!r}")


def run(args: argparse.Namespace) -> int:
    _check(args)
    from worker.pool import run_pool, run_process

    if args.processes == 1:
        return run_process(args.server, args.worker_id, args.search, args.max_trials,
                           args.idle_exit, args.verbose)
    child_args = ["--server", args.server]
    if args.search is not None:
        child_args += ["--search", str(args.search)]
    if args.max_trials is not None:
        child_args += ["--max-trials", str(args.max_trials)]
    if args.idle_exit is not None:
        child_args += ["--idle-exit", str(args.idle_exit)]
    if args.verbose:
        child_args.append("--verbose")
    return run_pool(child_args, args.processes, args.worker_id)
