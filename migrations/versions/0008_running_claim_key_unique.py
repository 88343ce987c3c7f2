"""One running trial per worker and claim key

- uq_trials_running_claim_key: a unique index on trials (worker_id, claim_key) over the
  running trials that have a key. Two claims with one key (a worker's retry of a claim
  still in flight) may both look for the key's trial before either commits; the index
  makes the second one's trial clash with the first's, and the claim then asks again and
  answers the first's trial (service.store.lifecycle.Lifecycle.claim). Running trials
  that already share a key (that race, before this revision) keep it on the oldest
  only: the key serves nothing but the retry of its claim.
- ix_trials_claim_key (0007) is dropped: the key's lookup reads the new index, which
  holds only running trials, so a trial's later updates no longer write an entry for
  its key.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_RUNNING_WITH_KEY = sa.text("status = 'running' AND claim_key IS NOT NULL")


def upgrade() -> None:
    op.execute(sa.text(
        "UPDATE trials SET claim_key = NULL WHERE status = 'running' AND claim_key IS NOT NULL "
        "AND id NOT IN (SELECT min(id) FROM trials WHERE status = 'running' "
        "AND claim_key IS NOT NULL GROUP BY worker_id, claim_key)"))
    op.create_index("uq_trials_running_claim_key", "trials", ["worker_id", "claim_key"],
                    unique=True, postgresql_where=_RUNNING_WITH_KEY,
                    sqlite_where=_RUNNING_WITH_KEY)
    op.drop_index("ix_trials_claim_key", "trials")


def downgrade() -> None:
    op.create_index("ix_trials_claim_key", "trials", ["claim_key"])
    op.drop_index("uq_trials_running_claim_key", "trials")
