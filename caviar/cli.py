"""Entry point of the `caviar` command.

Each subcommand is a module in caviar.commands with `register(subparsers)`,
which adds its parser and sets `run(args) -> int` as the parser's handler.
Modules are imported only for the command that runs, so a worker node
without the server's dependencies (the `caviar-worker` distribution,
packaging/caviar-worker) can still run `caviar worker`; a command that needs
the server says so there.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from caviar.errors import UsageError

COMMANDS = {
    "train": "train one configuration on a dataset and print its learning curve",
    "gradcheck": "check the engine's backprop against numerical gradients",
    "serve": "run the server (REST API, dashboard, SQL storage)",
    "migrate": "bring the database schema to the latest revision, then exit",
    "worker": "run worker processes that pull trials from a server and train them",
    "submit": "create a search from a YAML spec; --watch follows it live",
    "validate": "check search specs offline, by the server's rules",
    "status": "list searches, or show one search's counts and leaderboard",
    "cancel": "cancel a search",
    "token": "create, list and revoke API tokens",
    "retest": "train a search's best trials again with new seeds, to rank them by the mean",
    "demo": "run server, workers and the example search on this machine",
}

SERVER_MODULES = frozenset({"service", "migrations", "fastapi", "uvicorn", "sqlalchemy",
                            "alembic", "psycopg"})
"""What `caviar-worker` leaves out: the server and its dependencies."""


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """The parser of `caviar`, with the full parser of the command argv names (only that
    command's module is imported)."""
    parser = argparse.ArgumentParser(
        prog="caviar", description="Caviar: hyperparameter search with a fleet of workers."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, summary in COMMANDS.items():
        if name == chosen:
            module = importlib.import_module(f"caviar.commands.{name}")
            module.register(subparsers)
            command = subparsers.choices[name]
            command.set_defaults(parser=command)
        else:
            subparsers.add_parser(name, help=summary, description=summary, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run the subcommand, and turn bad input into exit code 2.

    A UsageError is printed one line per problem (a spec's broken rules), no traceback.
    """
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # reported by the command's parser, which names it and shows its usage
        getattr(args, "parser", parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    handler = getattr(args, "run", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except UsageError as error:
        for line in str(error).splitlines():
            print(f"caviar {args.command}: error: {line}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] not in SERVER_MODULES:
            raise
        print(f"caviar {args.command}: error: this command needs the server, which this "
              f"installation does not have (no module {error.name!r}): install the `caviar` "
              "package, not `caviar-worker`", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
