"""`caviar migrate`: bring a database's schema to the latest revision, and nothing else.

`caviar serve` does the same at start; this is for a deployment that migrates once,
before its servers start (a Kubernetes Job: docs/deploy.md, "On Kubernetes").
"""

from __future__ import annotations

import argparse
import sys

from caviar.errors import UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `migrate` parser."""
    parser = subparsers.add_parser(
        "migrate", help="bring the database schema to the latest revision, then exit",
        description="Bring the database schema to the latest Alembic revision and exit (what "
        "`caviar serve` does at start). Safe while servers start on the same PostgreSQL "
        "database: an advisory lock serializes migrations.",
    )
    parser.add_argument(
        "--database-url", default=None,
        help="SQLAlchemy URL of the database (default: as `caviar serve`, CAVIAR_DATABASE_URL "
        "or sqlite:///./caviar.db; the variable keeps a password out of the command line)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Migrate the database of --database-url; exit 0 when it is at the latest revision."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from service.db.migrate import MigrationError, upgrade_to_head
    from service.db.session import Database, DatabaseURLError, check_url
    from service.settings import Settings, SettingsError

    try:
        url = Settings.from_env(database_url=args.database_url).database_url
        check_url(url)
    except SettingsError as error:
        raise UsageError(str(error)) from None
    except DatabaseURLError as error:
        raise UsageError(f"--database-url: {error}") from None
    shown = make_url(url).render_as_string(hide_password=True)
    db = Database(url)
    try:
        upgrade_to_head(db.write_engine)
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise UsageError(f"--database-url: cannot migrate {shown!r}: {reason}") from None
    except MigrationError as error:
        raise UsageError(f"--database-url: cannot migrate {shown!r}: {error}") from None
    finally:
        db.dispose()
    print(f"caviar migrate: {shown} is at the latest schema revision", file=sys.stderr)
    return 0
