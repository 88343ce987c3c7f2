"""The server's storage: searches, trials and datasets in SQL.

- `lifecycle`: every change of a trial's or search's state, stored (the rules
  are domain.lifecycle's); `rows`, `statements` and `tables`: how it reads
  records and writes back what changed.
- `postgres/`: the same lifecycle with fewer round trips on PostgreSQL.
- `searches`, `trials`, `datasets`: creating and reading; `trial_json`:
  trials rendered as JSON by the database, for large listings.
"""

from __future__ import annotations

from service.db.session import Database
from service.store.lifecycle import Lifecycle
from service.store.postgres.lifecycle import PostgresLifecycle


def open_lifecycle(db: Database, lease_seconds: float, fast_path: bool = True) -> Lifecycle:
    """The lifecycle's store for the database: on PostgreSQL, its fast path unless told not."""
    if db.is_postgres and fast_path:
        return PostgresLifecycle(db, lease_seconds)
    return Lifecycle(db, lease_seconds)
