"""What the commands that talk to a server share: the --server option and error handling."""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable

from caviar.errors import UsageError
from worker.client import TOKEN_ENV, ApiError, CaviarClient, ClientError, RetryPolicy

DEFAULT_SERVER = "http://127.0.0.1:8000"
COMMAND_RETRY = RetryPolicy(attempts=3, base=0.2, cap=1.0)


def add_server_option(parser: argparse.ArgumentParser) -> None:
    """--server URL, defaulting to CAVIAR_SERVER or http://127.0.0.1:8000."""
    parser.add_argument(
        "--server", default=os.environ.get("CAVIAR_SERVER", DEFAULT_SERVER),
        help="server base URL (default: $CAVIAR_SERVER or %(default)s)",
    )


def check_search_id(value: int | None, name: str = "SEARCH") -> None:
    """A usage error unless the search id given (if any) can be one."""
    if value is not None and value < 1:
        raise UsageError(f"{name}: must be a search id (1 or more), got {value}")


def connect(args: argparse.Namespace) -> CaviarClient:
    """A client for the server the command line names, with the token of CAVIAR_TOKEN."""
    return CaviarClient(args.server, retry=COMMAND_RETRY,
                        token=os.environ.get(TOKEN_ENV) or None)


def reports_server_errors(run: Callable[[argparse.Namespace], int]
                          ) -> Callable[[argparse.Namespace], int]:
    """Turn an unreachable server or a refused request into one line on stderr and exit 1.

    A 422 is bad input: one line per error naming the field, exit 2.
    """

    @functools.wraps(run)
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except ApiError as error:
            prefix = f"caviar {args.command}: error:"
            for line in error.messages():
                print(f"{prefix} {line}", file=sys.stderr)
            if error.status == 401 and not os.environ.get(TOKEN_ENV):
                print(f"{prefix} set {TOKEN_ENV} to a token of this server", file=sys.stderr)
            return 2 if error.status == 422 else 1
        except ClientError as error:
            print(f"caviar {args.command}: error: server {args.server} unreachable: {error}",
                  file=sys.stderr)
            return 1

    return wrapped
