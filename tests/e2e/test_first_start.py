"""Two `caviar serve` processes started at the same moment on one empty PostgreSQL database:
both come up, and the schema is migrated once (service.db.migrate's advisory lock)."""

from __future__ import annotations

import psycopg
import pytest
from alembic.script import ScriptDirectory

from service.db.migrate import alembic_config
from tests.support.barrier_proxy import barrier_proxy
from tests.support.databases import postgres_database
from tests.support.processes import live_servers

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.timeout(180)]


def stored_revisions(database_url: str) -> list[str]:
    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        return [row[0] for row in conn.execute("SELECT version_num FROM alembic_version")]


@pytest.mark.parametrize("round_", range(2))
def test_two_servers_starting_together_migrate_an_empty_database_once(tmp_path, round_):
    """Both servers' first connections (the migration's) are held by a proxy until both
    have arrived, so that they migrate at the same moment."""
    with postgres_database() as url, barrier_proxy(url, parties=2) as (proxied, proxy), \
            live_servers(2, proxied, tmp_path) as servers:
        assert proxy.released
        logs = [server.log.read_text() for server in servers]
        revisions = stored_revisions(url)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revisions == [head]
    for log in logs:
        assert "Traceback" not in log and "ERROR" not in log and "error:" not in log, log
