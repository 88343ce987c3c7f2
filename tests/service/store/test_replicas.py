"""Two server replicas' stores on one PostgreSQL database, a worker's calls going to either.

Each PostgresLifecycle remembers the trials it handed out or wrote a report of
(service.store.postgres.reports.KnownTrials); behind a load balancer a worker's next call
may reach the other replica, and its memory is then stale. What it decides must still be
what one store would: epochs stored once, a stop heard wherever it was asked, the
cursor moving with every change."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from domain.spec import parse_spec
from service.db.session import Database
from service.store.postgres.lifecycle import PostgresLifecycle
from service.store.searches import create_search
from service.store.tables import INTERMEDIATE, SEARCHES, TRIALS
from tests.service.helpers import make_spec

pytestmark = pytest.mark.postgres


def stored(db: Database, trial_id: int) -> tuple[list[int], int, int]:
    """The trial's stored epochs, its seq, and its search's cursor."""
    with db.engine.connect() as connection:
        epochs = connection.scalars(select(INTERMEDIATE.c.epoch)
                                    .where(INTERMEDIATE.c.trial_id == trial_id)
                                    .order_by(INTERMEDIATE.c.epoch)).all()
        seq, last_seq = connection.execute(
            select(TRIALS.c.seq, SEARCHES.c.last_seq)
            .join_from(TRIALS, SEARCHES, SEARCHES.c.id == TRIALS.c.search_id)
            .where(TRIALS.c.id == trial_id)).one()
    return list(epochs), seq, last_seq


def test_a_worker_whose_calls_alternate_replicas_is_answered_as_by_one(db: Database):
    a, b = PostgresLifecycle(db, 60), PostgresLifecycle(db, 60)
    search = create_search(db, parse_spec(make_spec())).search
    claimed = a.claim("w/1", search.id)
    assert claimed is not None
    trial_id, token = claimed.trial.id, claimed.trial.lease_token
    seqs = [stored(db, trial_id)[1]]

    # Epoch 0 through B, then epoch 1 through A, which remembers the trial as it handed
    # it out (before epoch 0), then heartbeats and epoch 2 through each.
    for store, epoch in ((b, 0), (a, 1), (b, 2)):
        assert not a.heartbeat(trial_id, token).stop and not b.heartbeat(trial_id, token).stop
        assert not store.report(trial_id, token, [(epoch, {"dev_accuracy": 0.5 + epoch / 10})]
                                ).stop
        epochs, seq, last_seq = stored(db, trial_id)
        assert epochs == list(range(epoch + 1))
        assert seq == last_seq and seq > seqs[-1]
        seqs.append(seq)

    # A repeated report (the worker retried through the other replica) stores nothing twice.
    assert not a.report(trial_id, token, [(2, {"dev_accuracy": 0.7})]).stop
    assert stored(db, trial_id)[0] == [0, 1, 2]

    # A stop asked through B is heard by a report through A, which remembers the trial
    # from its own last report.
    b.stop(trial_id)
    told = a.report(trial_id, token, [(3, {"dev_accuracy": 0.8})])
    assert told.stop and told.reason == "stopped by user"
    finished = b.complete(trial_id, token, {"dev_accuracy": 0.8})
    assert finished.status == "completed"
    epochs, seq, last_seq = stored(db, trial_id)
    assert epochs == [0, 1, 2, 3] and seq == last_seq
