"""`caviar token`: create, list and revoke API tokens.

With `--database-url` the command works on the server's database directly: that
is how the first admin token is made, on the server's machine, before anyone
holds a token. Without it, it asks the server (`--server`) with the admin token
in CAVIAR_TOKEN. `create` prints the token alone on stdout (it is shown once),
so `export CAVIAR_TOKEN=$(caviar token create ...)` works.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from caviar.commands._server import add_server_option, connect, reports_server_errors
from caviar.errors import UsageError
from domain.roles import Role

ROLES = tuple(role.value for role in Role)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `token` parser and its subcommands."""
    parser = subparsers.add_parser(
        "token", help="create, list and revoke API tokens",
        description="Create, list and revoke API tokens. With --database-url, on the "
        "server's database directly (the first admin token); otherwise through --server "
        "with an admin token in CAVIAR_TOKEN.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="make a token and print it (shown once)")
    create.add_argument("--role", required=True, choices=ROLES, help="what the token may do")
    create.add_argument("--name", required=True, help="a name to tell the token by")
    create.add_argument("--owner", default=None,
                        help="whose searches it acts on (default: its name)")
    actions.add_parser("list", help="list tokens (never the tokens themselves)")
    revoke = actions.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("id", type=int, metavar="ID", help="the token's id (caviar token list)")
    for action in actions.choices.values():
        add_server_option(action)
        action.add_argument(
            "--database-url", default=None,
            help="work on this database directly instead of asking the server "
            "(e.g. sqlite:///caviar.db)")
    parser.set_defaults(run=run)


@reports_server_errors
def run(args: argparse.Namespace) -> int:
    """Run the action on the database or through the server."""
    if args.action == "revoke" and args.id < 1:
        raise UsageError(f"ID: must be a token id (1 or more), got {args.id}")
    if args.database_url is not None:
        return _on_database(args)
    with connect(args) as client:
        if args.action == "create":
            _created(client.create_token(args.name, args.role, args.owner))
        elif args.action == "list":
            _table(client.list_tokens()["items"])
        else:
            _revoked(client.revoke_token(args.id))
    return 0


def _on_database(args: argparse.Namespace) -> int:
    """The action on the database of --database-url, brought to the latest schema first."""
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    from domain.error_format import clean_errors, error_line
    from domain.errors import Conflict, NotFound
    from service.api import views
    from service.api.schemas import TokenCreate
    from service.auth import tokens
    from service.db.migrate import MigrationError, upgrade_to_head
    from service.db.session import Database, DatabaseURLError, check_url

    try:
        check_url(args.database_url)
    except DatabaseURLError as error:
        raise UsageError(f"--database-url: {error}") from None
    db = Database(args.database_url)
    try:
        upgrade_to_head(db.write_engine)
        if args.action == "create":
            try:
                body = TokenCreate(name=args.name, role=args.role, owner=args.owner)
            except ValidationError as error:
                raise UsageError("\n".join(
                    "--" + error_line(item)
                    for item in clean_errors(error.errors(), prefix=("body",)))) from None
            info, token = tokens.create_token(db, body.name, body.role, body.owner)
            _created({**views.token_json(info), "token": token})
        elif args.action == "list":
            _table([views.token_json(info) for info in tokens.list_tokens(db)])
        else:
            _revoked(views.token_json(tokens.revoke_token(db, args.id)))
    except (NotFound, Conflict) as error:
        print(f"caviar token: error: {error}", file=sys.stderr)
        return 1
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise UsageError(f"--database-url: cannot open the database: {reason}") from None
    except MigrationError as error:
        raise UsageError(f"--database-url: cannot use the database: {error}") from None
    finally:
        db.dispose()
    return 0


def _created(token: dict[str, Any]) -> None:
    print(f"token {token['id']} {token['name']!r} (role {token['role']}, owner "
          f"{token['owner']}) created; it is shown once, here:", file=sys.stderr)
    print(token["token"])


def _revoked(token: dict[str, Any]) -> None:
    print(f"token {token['id']} {token['name']!r} revoked")


def _table(items: list[dict[str, Any]]) -> None:
    print(f"{'ID':>4}  {'NAME':<20} {'ROLE':<7} {'OWNER':<16} {'PREFIX':<11} "
          f"{'LAST USED':<24} STATE")
    for item in items:
        state = "revoked" if item["revoked_at"] else "live"
        print(f"{item['id']:>4}  {item['name']:<20} {item['role']:<7} {item['owner']:<16} "
              f"{item['prefix'] + '…':<11} {item['last_used_at'] or 'never':<24} {state}")
