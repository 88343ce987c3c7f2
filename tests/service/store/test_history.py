"""The history a server process keeps between claims is the history a fresh read gives: the
same search, driven the same way through a long-lived store and through a new store at
every call, proposes the same trials."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, update
from sqlalchemy.exc import OperationalError

from domain.spec import parse_spec
from service.db.migrate import upgrade_to_head
from service.db.session import Database
from service.store import open_lifecycle
from service.store.lifecycle import Lifecycle
from service.store.searches import create_search
from service.store.tables import TRIALS
from tests.service.helpers import make_spec
from tests.support.databases import STORAGE_KINDS, database

SPECS = {
    "tpe": make_spec(sampler={"kind": "tpe", "seed": 3, "startup_trials": 3},
                     budget={"max_trials": 14, "max_parallel": 3, "max_attempts": 3}),
    "tpe+asha": make_spec(sampler={"kind": "tpe", "seed": 3, "startup_trials": 3},
                          early_stopping={"kind": "asha", "eta": 2},
                          budget={"max_trials": 14, "max_parallel": 3, "max_attempts": 3}),
    "coarse_to_fine": make_spec(sampler={"kind": "coarse_to_fine", "seed": 3, "round_size": 3},
                                budget={"max_trials": 12, "max_parallel": 3}),
}


@pytest.fixture(params=STORAGE_KINDS)
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[Database]]:
    """Two fresh databases of one kind, migrated."""
    with ExitStack() as stack:
        opened = []
        for index in range(2):
            folder = tmp_path / str(index)
            folder.mkdir()
            db = Database(stack.enter_context(database(request.param, folder)))
            upgrade_to_head(db.write_engine)
            stack.callback(db.dispose)
            opened.append(db)
        yield opened


def drive(store: Callable[[], Lifecycle], search_id: int) -> list[dict[str, Any]]:
    """Claim, report, complete, fail and give back trials in a fixed order; the params of
    every trial claimed, in order."""
    claimed: list[dict[str, Any]] = []
    step = 0
    while (first := store().claim("w", search_id)) is not None:
        claimed.append(first.trial.params)
        second = store().claim("w", search_id)
        for index, trial in enumerate(t for t in (first, second) if t is not None):
            token, trial_id = trial.trial.lease_token or "", trial.trial.id or 0
            value = 0.1 + (step * 7 % 10) / 12
            store().report(trial_id, token, [(0, {"dev_accuracy": value}),
                                             (1, {"dev_accuracy": value + 0.01})])
            if step % 5 == 3 and index == 0:
                store().fail(trial_id, token, "given back", retry=True)
            elif step % 7 == 6:
                store().fail(trial_id, token, "boom", retry=False)
            else:
                store().complete(trial_id, token, {"dev_accuracy": value + 0.02})
            step += 1
        if second is not None:
            claimed.append(second.trial.params)
    return claimed


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_a_long_lived_store_proposes_what_a_fresh_one_does(databases, kind):
    kept_db, fresh_db = databases
    runs = []
    kept = open_lifecycle(kept_db, 60)
    for db, store in ((kept_db, lambda: kept), (fresh_db, lambda: open_lifecycle(fresh_db, 60))):
        search = create_search(db, parse_spec(SPECS[kind]))
        runs.append(drive(store, search.search.id))
    assert len(runs[0]) >= 12 and runs[0] == runs[1]


@pytest.mark.parametrize("databases", [pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
@pytest.mark.parametrize("kind", sorted(SPECS))
def test_two_long_lived_stores_taking_turns_propose_what_a_fresh_one_does(databases, kind):
    """Two server replicas on one database (PostgreSQL: SQLite holds one server), each
    with its own history, calls going to either in turn: each reads what the other
    changed since it last looked."""
    replicas_db, fresh_db = databases
    replicas = [open_lifecycle(replicas_db, 60) for _ in range(2)]
    turns = itertools.count()
    runs = []
    for db, store in ((replicas_db, lambda: replicas[next(turns) % 2]),
                      (fresh_db, lambda: open_lifecycle(fresh_db, 60))):
        search = create_search(db, parse_spec(SPECS[kind]))
        runs.append(drive(store, search.search.id))
    assert len(runs[0]) >= 12 and runs[0] == runs[1]


def test_a_claim_whose_commit_failed_leaves_no_trace_in_the_history(databases):
    """The claim's transaction fails out B's expired lease (its last attempt), reads the
    history with that change, proposes, and cannot commit (a full disk, say): the database
    is as before. C then completes, taking the change number the failed claim had read up
    to: the long-lived store must still see C's value at its next proposal, as a fresh
    store does."""
    kept_db, fresh_db = databases
    spec = parse_spec(make_spec(sampler={"kind": "tpe", "seed": 3, "startup_trials": 2},
                                budget={"max_trials": 8, "max_parallel": 8,
                                        "max_attempts": 1}))
    kept = open_lifecycle(kept_db, 60)
    proposals = []
    for db, store in ((kept_db, lambda: kept), (fresh_db, lambda: open_lifecycle(fresh_db, 60))):
        search_id = create_search(db, spec).search.id
        a, b, c = (store().claim("w", search_id) for _ in range(3))
        assert a is not None and b is not None and c is not None
        store().complete(a.trial.id or 0, a.trial.lease_token or "", {"dev_accuracy": 0.5})
        with db.write_engine.begin() as connection:
            connection.execute(update(TRIALS).where(TRIALS.c.id == b.trial.id)
                               .values(lease_expires_at=datetime(2026, 1, 1)))
        if store() is kept:
            with _commits_fail(db), pytest.raises(OperationalError, match="no space left"):
                kept.claim("w", search_id)
        store().complete(c.trial.id or 0, c.trial.lease_token or "", {"dev_accuracy": 0.9})
        d = store().claim("w", search_id)
        assert d is not None
        proposals.append(d.trial.params)
    assert proposals[0] == proposals[1]


@contextmanager
def _commits_fail(db: Database) -> Iterator[None]:
    """Every commit of the database's durable writes fails while inside."""
    def fail(connection: Any) -> None:
        raise OperationalError("COMMIT", {}, Exception("no space left on device"))

    event.listen(db.write_engine, "commit", fail)
    try:
        yield
    finally:
        event.remove(db.write_engine, "commit", fail)
