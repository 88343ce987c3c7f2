"""Bring a database to the latest Alembic revision, from any working directory."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

import migrations

# __path__, not __file__: an editable install made before the folder had files maps it
# as a namespace package, which has no __file__.
SCRIPT_LOCATION = str(Path(next(iter(migrations.__path__))))


def alembic_config() -> Config:
    """An Alembic config whose scripts are the `migrations` package shipped with Caviar."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return config


class MigrationError(RuntimeError):
    """The database was opened but its schema cannot be brought to this Caviar's latest
    revision; the message says why and what to do."""


def upgrade_to_head(engine: Engine) -> None:
    """Run `alembic upgrade head` on the engine's database.

    On PostgreSQL an advisory lock serializes servers that start at the same
    time against one database, and the migration is exempt from the server's
    statement and lock timeouts (a migration of a large table, or a wait for
    another server's, may take longer). Failing to connect raises SQLAlchemy's
    error; a schema this Caviar does not know, or a failed migration step (rolled
    back), raises MigrationError.
    """
    config = alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL statement_timeout = 0"))
            connection.execute(text("SET LOCAL lock_timeout = 0"))
            connection.execute(text("SELECT pg_advisory_xact_lock(74657)"))
        current = _known_revision(connection, ScriptDirectory.from_config(config))
        config.attributes["connection"] = connection
        try:
            command.upgrade(config, "head")
        except (CommandError, SQLAlchemyError) as error:
            reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
            raise MigrationError(f"migrating the schema from revision {current or 'none'} "
                                 f"failed and was rolled back: {reason}") from error


def _known_revision(connection: Connection, script: ScriptDirectory) -> str | None:
    """The database's schema revision (None if it has none yet), which must be one of ours.

    A revision we do not ship means a newer Caviar migrated the database: Alembic would
    fail with "Can't locate revision"; say what happened and what to run instead."""
    current = MigrationContext.configure(connection).get_current_revision()
    known = {revision.revision for revision in script.walk_revisions()}
    if current is not None and current not in known:
        raise MigrationError(
            f"the database's schema is at revision {current}, which this Caviar does not "
            f"know (its latest is {script.get_current_head()}): a newer Caviar migrated it; "
            "run that version or a later one against this database")
    return current
