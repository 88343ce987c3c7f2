"""The worker's name for the claim that took a trial's attempt

- trials.claim_key: ClaimRequest.claim_key of the claim that handed out the trial's
  current attempt (NULL for claims without one, and for trials never claimed), indexed:
  a claim that carries a key first looks for the running trial its key took.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trials") as batch:
        batch.add_column(sa.Column("claim_key", sa.String(64), nullable=True))
        batch.create_index("ix_trials_claim_key", ["claim_key"])


def downgrade() -> None:
    with op.batch_alter_table("trials") as batch:
        batch.drop_index("ix_trials_claim_key")
        batch.drop_column("claim_key")
