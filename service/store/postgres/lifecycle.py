"""The lifecycle's calls on PostgreSQL: the same decisions, fewer round trips.

`PostgresLifecycle` is service.store.lifecycle.Lifecycle with three changes,
each only about how statements travel:

- every statement goes through psycopg's cursor, and a call's writes go as one
  statement (service.store.postgres.statements);
- a heartbeat is its one checked statement on a connection in autocommit mode
  (no BEGIN and COMMIT round trips);
- a report of new epochs in a search without an early-stopping rule (the usual
  report) is decided by domain.lifecycle from the trial as this process last
  wrote it, or else as read without locks, and written by one checked statement
  (service.store.postgres.reports); any other report, or one whose trial
  changed meanwhile, is decided under the search's lock as Lifecycle does.

The same tests run against this class and against Lifecycle on PostgreSQL
(tests/conftest.py: `postgres` and `postgres-portable`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection

from domain.lifecycle.records import SearchRecord, TrialRecord
from domain.lifecycle.transitions import Event, check_lease, extend, record_epoch
from service.db.models import utcnow
from service.db.session import Database
from service.search.plans import plan_of
from service.store.lifecycle import Claimed, Epochs, Instruction, Lifecycle
from service.store.postgres.driver import autocommit_driver
from service.store.postgres.reports import KnownTrial, KnownTrials, report_write
from service.store.postgres.statements import DriverStatements
from service.store.rows import Rows
from service.store.statements import Statements
from service.store.tables import copied


def _known(search: SearchRecord, trial: TrialRecord) -> KnownTrial:
    objective = search.spec.objective
    return KnownTrial(copied(trial), objective.metric, objective.goal)


class PostgresLifecycle(Lifecycle):
    """Lifecycle on PostgreSQL, through the driver, with one-statement reports."""

    def __init__(self, db: Database, lease_seconds: float) -> None:
        super().__init__(db, lease_seconds)
        self._known = KnownTrials()

    def _statements(self, connection: Connection) -> Statements:
        return DriverStatements.of(connection)

    @contextmanager
    def _single_statements(self) -> Iterator[Statements]:
        """A pooled connection in autocommit mode: each statement commits on its own."""
        if self.db.autocommit_engine is None:
            raise RuntimeError(f"{self.db.backend} database has no autocommit engine")
        driver = autocommit_driver(self.db.autocommit_engine)
        try:
            yield DriverStatements(driver)
        finally:
            driver.raw.close()

    def claim(self, worker_id: str, search_id: int | None, claim_key: str | None = None
              ) -> Claimed | None:
        """Lifecycle.claim; the trial handed out is remembered for its reports."""
        claimed = super().claim(worker_id, search_id, claim_key)
        if claimed is not None and plan_of(claimed.search.spec_text).early_stopping is None:
            self._known.remember(_known(claimed.search, claimed.trial))
        return claimed

    def report(self, trial_id: int, lease_token: str, epochs: Epochs) -> Instruction:
        """Lifecycle.report, in one statement when it is a report of new epochs without an
        early-stopping rule and the trial is as known."""
        action = self._report_unlocked(trial_id, lease_token, epochs)
        return action if action is not None else super().report(trial_id, lease_token, epochs)

    def _report_unlocked(self, trial_id: int, lease_token: str, epochs: Epochs
                         ) -> Instruction | None:
        """The report decided from the trial as this process knows it, or else as read
        without locks; None if it is not such a report, or if the trial changed between
        the read and the write (nothing is written then)."""
        with self._single_statements() as sql:
            known = self._known.get(trial_id)
            if known is not None and known.trial.lease_token == lease_token:
                action = self._write_report(sql, known, epochs)
                if action is not None:
                    return action
            search, trial = Rows(sql).read_search_of_trial(trial_id)
            check_lease(trial, lease_token, Event.REPORT)
            if plan_of(search.spec_text).early_stopping is not None:
                return None
            return self._write_report(sql, _known(search, trial), epochs)

    def _write_report(self, sql: Statements, known: KnownTrial, epochs: Epochs
                      ) -> Instruction | None:
        """Write the report as decided from `known`; None if an epoch may have been stored
        before, or if the trial is no longer as known."""
        trial = copied(known.trial)
        if trial.last_epoch is not None and epochs[0][0] <= trial.last_epoch:
            return None
        values = [metrics.get(known.metric) for _, metrics in epochs]
        for (epoch, _), value in zip(epochs, values, strict=True):
            record_epoch(trial, epoch, value, known.goal)
        now = utcnow()
        expires_at = extend(trial, now, self.lease_seconds)
        written = sql.first(report_write(), {
            "report_search_id": trial.search_id, "report_trial_id": trial.id, "now": now,
            "known_seq": known.trial.seq, "known_lease_token": known.trial.lease_token,
            "new_value": trial.value, "new_last_epoch": trial.last_epoch,
            "new_lease_expires_at": expires_at,
            "epochs": json.dumps([{"epoch": epoch, "value": value, "metrics": metrics}
                                  for (epoch, metrics), value in zip(epochs, values,
                                                                     strict=True)]),
        })
        if written is None:
            if trial.id is not None:
                self._known.forget(trial.id)
            return None
        trial.seq = written[0]
        self._known.remember(KnownTrial(trial, known.metric, known.goal))
        return Instruction.of(trial)
