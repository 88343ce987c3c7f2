"""Experiment: what one round trip per report would save on PostgreSQL.

The server's report is four round trips (BEGIN, the locked read, the write,
COMMIT), decided in Python between them. This script measures, on a fresh
PostgreSQL database, the CPU per report of `service.store.protocol.report`
against a prototype PL/pgSQL function doing a report's work in one call from
an autocommit connection: lock the search, then the trial; check the lease;
insert the epoch once; bump the change cursor; keep the best value (maximize
only), `last_epoch` and the lease; return the stop reason. The prototype has no
early-stopping rule, batches or error wording, and the server does not use it:
it sizes the largest saving in sight on PostgreSQL (benchmarks/README.md, "Where
a PostgreSQL trial's CPU goes"), which would cost a second implementation of the
protocol beside the Python one.

    .venv/bin/python -m benchmarks.report_in_sql [--reports 3000]

Prints, per report: wall time, the client's CPU (this process) and
PostgreSQL's CPU (all `postgres` processes, from /proc), for both.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import psycopg
from psycopg.types.json import Json

from benchmarks.bench_cpu import postgres_cpu
from service.db.migrate import upgrade_to_head
from service.db.session import Database
from service.search.spec import parse_spec
from service.store import protocol
from service.store.changes import later, utcnow
from service.store.searches import create_search
from tests.service.helpers import make_spec
from tests.support.databases import postgres_database

REPORT_FUNCTION = """
CREATE FUNCTION bench_report(p_trial int, p_token text, p_epoch int, p_value float8,
                             p_metrics json, p_now timestamp, p_until timestamp)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  v_search int;
  v_trial record;
  v_seq bigint;
BEGIN
  SELECT search_id INTO v_search FROM trials WHERE id = p_trial;
  PERFORM 1 FROM searches WHERE id = v_search FOR UPDATE;
  SELECT * INTO v_trial FROM trials WHERE id = p_trial FOR UPDATE;
  IF v_trial.lease_token IS DISTINCT FROM p_token OR v_trial.status <> 'running' THEN
    RAISE EXCEPTION 'conflict';
  END IF;
  INSERT INTO intermediate (trial_id, epoch, value, metrics, created_at)
  VALUES (p_trial, p_epoch, p_value, p_metrics, p_now) ON CONFLICT DO NOTHING;
  IF FOUND THEN
    UPDATE searches SET last_seq = last_seq + 1, updated_at = p_now WHERE id = v_search
    RETURNING last_seq INTO v_seq;
    UPDATE trials SET value = GREATEST(value, p_value), last_epoch = GREATEST(last_epoch, p_epoch),
                      lease_expires_at = p_until, seq = v_seq
    WHERE id = p_trial;
  END IF;
  RETURN v_trial.stop_reason;
END $$;
"""


def timed(name: str, reports: int, report: Callable[[int], object]) -> None:
    """Run report(epoch) for each epoch; print wall, client CPU and PostgreSQL CPU per report."""
    wall, cpu, database = time.perf_counter(), time.process_time(), postgres_cpu()
    for epoch in range(reports):
        report(epoch)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    database = postgres_cpu() - database
    print(f"{name:<32} wall {wall / reports * 1e6:5.0f} us, client CPU "
          f"{cpu / reports * 1e6:4.0f} us, PostgreSQL CPU {database / reports * 1e6:4.0f} us",
          flush=True)


def python_report(db: Database, trial: int, token: str) -> Callable[[int], object]:
    """The server's report of one epoch to the trial."""
    return lambda epoch: protocol.report(db, trial, token, [(epoch, {"dev_accuracy": 0.5})], 60)


def sql_report(raw: psycopg.Connection, trial: int, token: str) -> Callable[[int], object]:
    """The prototype's report of one epoch to the trial, one statement in autocommit."""

    def report(epoch: int) -> object:
        now = utcnow()
        return raw.execute("SELECT bench_report(%s, %s, %s, %s, %s, %s, %s)",
                           (trial, token, epoch, 0.5, Json({"dev_accuracy": 0.5}), now,
                            later(now, 60))).fetchone()

    return report


def main() -> None:
    """Both kinds of report, twice each, on one fresh database."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=3000)
    args = parser.parse_args()
    if args.reports < 1:
        parser.error("--reports: must be at least 1")
    with postgres_database() as url:
        db = Database(url)
        upgrade_to_head(db.write_engine)
        spec = make_spec(budget={"max_trials": 100, "max_parallel": 8, "max_attempts": 2})
        search_id = create_search(db, parse_spec(spec)).search.id

        def new_trial() -> tuple[int, str]:
            claimed = protocol.claim(db, "bench/0", search_id, lease_seconds=60)
            return claimed.trial.id, claimed.trial.lease_token

        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"),
                             autocommit=True) as raw:
            raw.execute("SET synchronous_commit = off")  # as the server's reports
            raw.execute(REPORT_FUNCTION)
            for _ in range(2):
                timed("protocol.report (4 round trips)", args.reports,
                      python_report(db, *new_trial()))
                timed("PL/pgSQL report (1 round trip)", args.reports,
                      sql_report(raw, *new_trial()))
        db.dispose()


if __name__ == "__main__":
    main()
