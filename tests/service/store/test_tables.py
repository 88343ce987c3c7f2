"""Rows and records: the SQL twin of a lifecycle rule agrees with the rule."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from domain.lifecycle.states import TrialStatus
from domain.lifecycle.transitions import lease_expired
from domain.spec import parse_spec
from service.db.migrate import upgrade_to_head
from service.db.models import utcnow
from service.db.session import Database
from service.store import open_lifecycle
from service.store.searches import create_search
from service.store.tables import TRIAL_COLUMNS, TRIALS, lease_ran_out, trial_record
from tests.service.helpers import make_spec
from tests.support.databases import STORAGE_KINDS, database


@pytest.fixture(params=STORAGE_KINDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """The server's database, schema at head, on each kind."""
    with database(request.param, tmp_path) as url:
        opened = Database(url)
        upgrade_to_head(opened.write_engine)
        yield opened
        opened.dispose()


def test_the_sql_lease_rule_finds_what_lease_expired_says(db: Database):
    store = open_lifecycle(db, lease_seconds=60)
    search = create_search(db, parse_spec(make_spec(
        budget={"max_trials": 6, "max_parallel": 6, "max_attempts": 3}))).search
    claimed = [store.claim("w/1", search.id) for _ in range(5)]
    ids = [c.trial.id for c in claimed if c is not None and c.trial.id is not None]
    now = utcnow()
    leases = [now - timedelta(seconds=5), now - timedelta(microseconds=1), now,
              now + timedelta(seconds=5), now - timedelta(seconds=5)]
    with db.write_connection() as connection:
        for trial_id, end in zip(ids, leases, strict=True):
            connection.execute(update(TRIALS).where(TRIALS.c.id == trial_id)
                               .values(lease_expires_at=end))
        connection.execute(update(TRIALS).where(TRIALS.c.id == ids[-1])
                           .values(status=TrialStatus.COMPLETED))  # ended: its lease is moot
    with db.read_connection() as connection:
        rows = connection.execute(select(*TRIAL_COLUMNS).where(
            TRIALS.c.search_id == search.id)).all()
        by_sql = set(connection.scalars(select(TRIALS.c.id).where(
            lease_ran_out(search.id)), {"now": now}).all())
    by_rule = {trial.id for trial in map(trial_record, rows) if lease_expired(trial, now)}
    assert by_sql == by_rule == {ids[0], ids[1]}
