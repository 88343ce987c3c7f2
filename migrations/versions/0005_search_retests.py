"""Re-tests counted by their search

- searches.n_retests: how many of the search's trials are re-tests (trials.origin_trial_id
  set), so that its sampler's index, n_trials - n_retests, skips them without a count.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("searches") as batch:
        batch.add_column(sa.Column("n_retests", sa.Integer(), nullable=False,
                                   server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("searches") as batch:
        batch.drop_column("n_retests")
