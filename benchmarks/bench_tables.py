"""The server's tables, as far as the benchmarks bulk-fill them with plain SQL.

A light mirror of `service/db/models.py`: the benchmark scripts cannot import
the `service` package (run as `python benchmarks/service.py`, this folder comes
first on the import path and `service` would be that script). Keep the columns
in step with the models.
"""

import sqlalchemy as sa

SEARCHES = sa.table("searches", sa.column("id"), sa.column("n_trials"),
                    sa.column("count_completed"), sa.column("last_seq"),
                    sa.column("best_trial_id"), sa.column("best_value", sa.Float),
                    sa.column("updated_at", sa.DateTime))
TRIALS = sa.table(
    "trials", sa.column("id"), sa.column("search_id"), sa.column("number"),
    sa.column("params", sa.JSON), sa.column("round"), sa.column("status"),
    sa.column("attempt"), sa.column("worker_id"), sa.column("value", sa.Float),
    sa.column("metrics", sa.JSON), sa.column("last_epoch"), sa.column("seq"),
    sa.column("created_at", sa.DateTime), sa.column("started_at", sa.DateTime),
    sa.column("finished_at", sa.DateTime),
)
INTERMEDIATE = sa.table(
    "intermediate", sa.column("trial_id"), sa.column("epoch"), sa.column("value", sa.Float),
    sa.column("metrics", sa.JSON), sa.column("created_at", sa.DateTime),
)
