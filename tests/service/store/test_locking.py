"""The lock order of the worker protocol on PostgreSQL: a search before any of its trials.

Every write locks its search first, so a call that waits for a search holds
no trial meanwhile; a claim holding the search can then requeue that call's
trial without waiting. With the order reversed the two would wait for each
other, and PostgreSQL would abort one of them as a deadlock.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Connection, text, update
from sqlalchemy.exc import OperationalError

from domain.spec import parse_spec
from service.db.session import Database
from service.store.lifecycle import Lifecycle
from service.store.postgres.lifecycle import PostgresLifecycle
from service.store.rows import Rows
from service.store.searches import create_search
from service.store.statements import CoreStatements
from service.store.tables import TRIALS
from tests.service.helpers import make_spec

pytestmark = pytest.mark.postgres


@pytest.fixture(params=["fast", "portable"])
def store(request: pytest.FixtureRequest, db: Database) -> Lifecycle:
    """The lifecycle's store on the database: its fast path, and the portable one."""
    return PostgresLifecycle(db, 60) if request.param == "fast" else Lifecycle(db, 60)


def lock_search(holder: Connection, search_id: int) -> bool:
    """Lock the search in the holder's transaction, as a claim does; whether it exists."""
    return Rows(CoreStatements(holder)).lock_search(search_id) is not None


def _wait_for_a_lock_wait(db: Database, seconds: float = 10, sessions: int = 1) -> None:
    """Return once `sessions` sessions of this database wait for a lock."""
    deadline = time.monotonic() + seconds
    with db.engine.connect() as probe:
        while time.monotonic() < deadline:
            waiting = probe.scalar(text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"))
            probe.rollback()
            if waiting >= sessions:
                return
            time.sleep(0.01)
    raise AssertionError(f"fewer than {sessions} sessions waited for a lock within {seconds} s")


@pytest.mark.parametrize("call", ["report", "report an earlier epoch", "complete"])
def test_a_call_waiting_for_the_search_holds_no_lock_on_its_trial(db: Database, store: Lifecycle,
                                                                  call: str):
    """A report of a new epoch locks the search inside its one write statement
    (service.store.postgres.reports); one of an earlier epoch and a complete lock it
    when they read."""
    search = create_search(db, parse_spec(make_spec())).search
    claimed = store.claim("w/1", search.id)
    trial_id, token = claimed.trial.id, claimed.trial.lease_token
    store.report(trial_id, token, [(0, {"dev_accuracy": 0.4}), (2, {"dev_accuracy": 0.5})])
    calls = {
        "report": lambda: store.report(trial_id, token, [(3, {"dev_accuracy": 0.6})]),
        "report an earlier epoch": lambda: store.report(
            trial_id, token, [(1, {"dev_accuracy": 0.6})]),
        "complete": lambda: store.complete(trial_id, token, {"dev_accuracy": 0.5}),
    }
    failures: list[BaseException] = []

    def run() -> None:
        try:
            calls[call]()
        except BaseException as error:  # noqa: BLE001 - reported by the test
            failures.append(error)

    with db.write_connection() as holder:  # as a claim holds the search
        assert lock_search(holder, search.id)
        waiter = threading.Thread(target=run)
        waiter.start()
        _wait_for_a_lock_wait(db)
        # As a requeue of its expired lease would: this must not wait for the call.
        holder.exec_driver_sql("SET LOCAL lock_timeout = '3s'")
        holder.execute(update(TRIALS).where(TRIALS.c.id == trial_id).values(worker_id="w/1"))
    waiter.join(30)
    assert not waiter.is_alive()
    assert failures == []


def test_a_heartbeat_needs_no_lock_on_the_search(db: Database, store: Lifecycle):
    search = create_search(db, parse_spec(make_spec())).search
    claimed = store.claim("w/1", search.id)
    with db.write_connection() as holder:  # as a claim holds the search
        assert lock_search(holder, search.id)
        action = store.heartbeat(claimed.trial.id, claimed.trial.lease_token)
    assert action.stop is False
    assert action.lease_expires_at > claimed.trial.lease_expires_at


def test_a_lock_wait_cut_short_is_raised_as_sqlalchemy_raises_it(db: Database,
                                                                 store: Lifecycle):
    """The locked reads go through the driver's own cursor; its errors must not leak raw
    (the API answers SQLAlchemy's OperationalError with a 503, anything else with a 500)."""
    search = create_search(db, parse_spec(make_spec())).search
    claimed = store.claim("w/1", search.id)
    trial_id, token = claimed.trial.id, claimed.trial.lease_token
    impatient = Database(db.url, timeout_seconds=0.2)  # its connections time out at 200 ms
    hurried = type(store)(impatient, 60)
    try:
        with db.write_connection() as holder:
            lock_search(holder, search.id)
            with pytest.raises(OperationalError, match="(lock|statement) timeout"):
                hurried.complete(trial_id, token, {"dev_accuracy": 0.5})
        # The pool still works.
        assert hurried.complete(trial_id, token, {"dev_accuracy": 0.5}).status == "completed"
    finally:
        impatient.dispose()


@pytest.mark.parametrize("by_search", [True, False], ids=["of the search", "of any search"])
def test_two_claims_with_one_key_take_one_trial(db: Database, store: Lifecycle,
                                                by_search: bool):
    """A worker's retry of a claim still in flight, both waiting for the search: the claim
    that goes second looked for its key before the first committed, and must still answer
    the first's trial instead of taking a second one."""
    search = create_search(db, parse_spec(make_spec())).search
    answers: list[int | None] = []
    failures: list[BaseException] = []

    def run() -> None:
        try:
            claimed = store.claim("w/1", search.id if by_search else None, "key-1")
            answers.append(None if claimed is None else claimed.trial.id)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            failures.append(error)

    claims = [threading.Thread(target=run) for _ in range(2)]
    with db.write_connection() as holder:  # both wait for the search, as behind a claim
        assert lock_search(holder, search.id)
        for claim in claims:
            claim.start()
        _wait_for_a_lock_wait(db, sessions=2)
    for claim in claims:
        claim.join(30)
    assert failures == []
    assert len(answers) == 2 and answers[0] is not None and answers[0] == answers[1]
    with db.engine.connect() as connection:
        running = connection.scalar(text(
            "SELECT count(*) FROM trials WHERE search_id = :s AND status = 'running'"),
            {"s": search.id})
    assert running == 1
