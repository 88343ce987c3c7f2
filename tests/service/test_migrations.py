"""Alembic's head builds exactly the schema the models describe, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from service.db.migrate import MigrationError, alembic_config, upgrade_to_head
from service.db.models import Base
from service.db.session import Database
from tests.support.databases import STORAGE_KINDS, database


@pytest.fixture(params=STORAGE_KINDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A throwaway database of each kind (migrations know nothing of the store's paths)."""
    with database(request.param, tmp_path) as url:
        yield url


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
                    "ix_trials_lease_expires_at", "uq_trials_running_claim_key"} <= indexes
            assert "ix_trials_claim_key" not in indexes
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


def test_0002_copies_each_search_s_best_value_from_its_best_trial(database_url):
    db = Database(database_url)
    try:
        config = alembic_config()
        with db.write_engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0001")
            for search_id, best in [(1, 2), (2, None)]:
                connection.execute(text(
                    "INSERT INTO searches (id, name, spec, status, max_trials, n_trials, "
                    "count_pending, count_running, count_completed, count_failed, "
                    "count_pruned, count_cancelled, last_seq, rounds, best_trial_id, "
                    "created_at, updated_at) VALUES (:id, 'old', '{}', 'running', 4, 2, 0, 0, "
                    "2, 0, 0, 0, 2, '[]', :best, :now, :now)"),
                    {"id": search_id, "best": best, "now": datetime(2026, 11, 1)})
            for trial_id, value in [(1, 0.5), (2, 0.75)]:
                connection.execute(text(
                    "INSERT INTO trials (id, search_id, number, params, round, status, "
                    "attempt, value, seq, created_at) VALUES (:id, 1, :id, '{}', 0, "
                    "'completed', 1, :value, :id, :now)"),
                    {"id": trial_id, "value": value, "now": datetime(2026, 11, 1)})
        upgrade_to_head(db.write_engine)
        with db.engine.connect() as connection:
            rows = connection.execute(text("SELECT id, best_value FROM searches ORDER BY id"))
            assert rows.all() == [(1, 0.75), (2, None)]
    finally:
        db.dispose()


def _upgrade_to(db: Database, revision: str) -> None:
    config = alembic_config()
    with db.write_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def _revision_and_columns(db: Database) -> tuple[str | None, set[str]]:
    with db.engine.connect() as connection:
        return (MigrationContext.configure(connection).get_current_revision(),
                {column["name"] for column in inspect(connection).get_columns("trials")})


def test_0008_keeps_a_claim_key_shared_by_running_trials_on_the_oldest_only(database_url):
    """Two claims with one key could both take a trial before 0008 made that a clash; the
    unique index can only be built once one of them lets go of the key."""
    db = Database(database_url)
    try:
        _upgrade_to(db, "0007")
        now = datetime(2026, 12, 1)
        with db.write_engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO searches (id, name, spec, status, max_trials, n_trials, "
                "count_pending, count_running, count_completed, count_failed, count_pruned, "
                "count_cancelled, count_paused, last_seq, rounds, created_at, updated_at) "
                "VALUES (1, 's', '{}', 'running', 9, 4, 0, 3, 1, 0, 0, 0, 0, 4, '[]', "
                ":now, :now)"), {"now": now})
            for trial_id, status, worker, key in [(1, "running", "w/1", "k"),
                                                  (2, "running", "w/1", "k"),
                                                  (3, "running", "w/2", "k"),
                                                  (4, "completed", "w/1", "k")]:
                connection.execute(text(
                    "INSERT INTO trials (id, search_id, number, params, round, status, attempt, "
                    "worker_id, claim_key, seq, created_at) VALUES (:id, 1, :id, '{}', 0, "
                    ":status, 1, :worker, :key, :id, :now)"),
                    {"id": trial_id, "status": status, "worker": worker, "key": key, "now": now})
        upgrade_to_head(db.write_engine)
        with db.engine.connect() as connection:
            keys = connection.execute(text("SELECT id, claim_key FROM trials ORDER BY id"))
            assert keys.all() == [(1, "k"), (2, None), (3, "k"), (4, "k")]
    finally:
        db.dispose()


def test_a_schema_from_a_newer_caviar_is_refused_untouched(database_url):
    db = Database(database_url)
    try:
        upgrade_to_head(db.write_engine)
        with db.write_engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        with pytest.raises(MigrationError) as refused:
            upgrade_to_head(db.write_engine)
        assert str(refused.value) == (
            f"the database's schema is at revision 0099, which this Caviar does not know "
            f"(its latest is {head}): a newer Caviar migrated it; run that version or a "
            "later one against this database")
        assert _revision_and_columns(db)[0] == "0099"
    finally:
        db.dispose()


def test_a_failed_migration_step_is_rolled_back_and_named(database_url):
    """0007 adds trials.claim_key and its index; an index already holding that name makes
    the step fail: nothing of it stays, and a later start, once it is dropped, succeeds."""
    db = Database(database_url)
    try:
        _upgrade_to(db, "0006")
        with db.write_engine.begin() as connection:
            connection.execute(text("CREATE INDEX ix_trials_claim_key ON trials (status)"))
        with pytest.raises(MigrationError, match="^migrating the schema from revision 0006 "
                           "failed and was rolled back: .*ix_trials_claim_key"):
            upgrade_to_head(db.write_engine)
        revision, columns = _revision_and_columns(db)
        assert revision == "0006" and "claim_key" not in columns
        with db.write_engine.begin() as connection:
            connection.execute(text("DROP INDEX ix_trials_claim_key"))
        upgrade_to_head(db.write_engine)
        revision, columns = _revision_and_columns(db)
        assert revision == ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert "claim_key" in columns
    finally:
        db.dispose()
