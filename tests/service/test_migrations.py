"""Alembic's head builds exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from service.db.migrate import alembic_config, upgrade_to_head
from service.db.models import Base
from service.db.session import Database


def test_head_matches_the_models(database_url):
    db = Database(database_url)
    try:
        upgrade_to_head(db.write_engine)
        upgrade_to_head(db.write_engine)  # a second start changes nothing
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            head = ScriptDirectory.from_config(alembic_config()).get_current_head()
            assert context.get_current_revision() == head
            indexes = {ix["name"] for ix in inspect(connection).get_indexes("trials")}
            assert {"ix_trials_search_id_status_number", "ix_trials_search_id_seq",
                    "ix_trials_lease_expires_at"} <= indexes
    finally:
        db.dispose()


def test_downgrade_to_base_removes_every_table(database_url):
    db = Database(database_url)
    try:
        upgrade_to_head(db.write_engine)
        config = alembic_config()
        with db.write_engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
        with db.engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
    finally:
        db.dispose()
