"""searches.best_value: the best trial's objective value, kept beside its id

A trial's completion compares its value with the search's best one while it
holds the search's lock; keeping the value on the search row saves reading the
best trial's row in that transaction.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("searches", sa.Column("best_value", sa.Float(), nullable=True))
    op.execute("UPDATE searches SET best_value = "
               "(SELECT trials.value FROM trials WHERE trials.id = searches.best_trial_id)")


def downgrade() -> None:
    op.drop_column("searches", "best_value")
