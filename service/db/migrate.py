"""Bring a database to the latest Alembic revision, from any working directory."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

import migrations

# __path__, not __file__: an editable install made before the folder had files maps it
# as a namespace package, which has no __file__.
SCRIPT_LOCATION = str(Path(next(iter(migrations.__path__))))


def alembic_config() -> Config:
    """An Alembic config whose scripts are the `migrations` package shipped with Caviar."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return config


def upgrade_to_head(engine: Engine) -> None:
    """Run `alembic upgrade head` on the engine's database.

    On PostgreSQL an advisory lock serializes servers that start at the same
    time against one database, and the migration is exempt from the server's
    statement and lock timeouts (a migration of a large table, or a wait for
    another server's, may take longer).
    """
    config = alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL statement_timeout = 0"))
            connection.execute(text("SET LOCAL lock_timeout = 0"))
            connection.execute(text("SELECT pg_advisory_xact_lock(74657)"))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
