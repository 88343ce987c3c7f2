"""`caviar migrate`: the real console script brings a database to Alembic's head, once or
again, from the flag or CAVIAR_DATABASE_URL; a bad URL is a usage error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from service.db.migrate import alembic_config
from tests.support.databases import sqlite_url

CAVIAR = str(Path(sys.executable).parent / "caviar")


def migrate(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {key: value for key, value in os.environ.items() if not key.startswith("CAVIAR_")}
    return subprocess.run([CAVIAR, "migrate", *args], capture_output=True, text=True,
                          timeout=120, env={**base, **(env or {})}, stdin=subprocess.DEVNULL)


def revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def test_migrate_brings_the_database_to_the_latest_revision(tmp_path):
    url = sqlite_url(tmp_path)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    done = migrate("--database-url", url)
    assert done.returncode == 0, done.stderr
    assert "latest schema revision" in done.stderr
    assert revision(url) == head
    again = migrate(env={"CAVIAR_DATABASE_URL": url})  # from the variable; nothing to do
    assert again.returncode == 0, again.stderr
    assert revision(url) == head


def test_a_bad_database_url_is_a_usage_error(tmp_path):
    done = migrate("--database-url", "mysql://db/caviar")
    assert done.returncode == 2
    assert "caviar migrate: error: --database-url:" in done.stderr
    assert "not supported" in done.stderr


def test_a_database_from_a_newer_caviar_is_a_one_line_error(tmp_path):
    url = sqlite_url(tmp_path)
    assert migrate("--database-url", url).returncode == 0
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    finally:
        engine.dispose()
    done = migrate("--database-url", url)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"caviar migrate: error: --database-url: cannot migrate '{url}': "
                               "the database's schema is at revision 0099, which this Caviar "
                               "does not know")
    assert revision(url) == "0099"
