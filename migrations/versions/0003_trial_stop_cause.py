"""trials.stop_cause: why a trial stopped short of finishing on its own, as a code

A trial's final state is decided from its stop cause (domain.lifecycle), never
from the text its worker was told (`stop_reason`). The cause is backfilled from
that text; for failed trials from how they failed (on their last attempt, the
error ending with "no attempts left", or by their worker's report); and a
trial cancelled before it ran was cancelled with its search.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("trials", sa.Column("stop_cause", sa.String(length=32), nullable=True))
    op.execute(
        "UPDATE trials SET stop_cause = CASE "
        "WHEN status = 'failed' AND error LIKE '%no attempts left' THEN 'attempts_exhausted' "
        "WHEN status = 'failed' THEN 'worker_error' "
        "WHEN stop_reason = 'stopped by user' THEN 'user' "
        "WHEN stop_reason = 'search cancelled' THEN 'search_cancelled' "
        "WHEN stop_reason = 'pruned by median rule' THEN 'median_rule' "
        "WHEN status = 'cancelled' THEN 'search_cancelled' END"
    )


def downgrade() -> None:
    op.drop_column("trials", "stop_cause")
