"""Rungs, paused trials and their checkpoints, and re-tests

- searches.count_paused: a new trial state, `paused` (promotion-based ASHA).
- trials.bracket, rung, checkpoint_epoch: a trial's Hyperband bracket, the
  highest rung it reached, and the epochs of its stored checkpoint.
- trials.origin_trial_id: the trial a re-test trains again with a new seed.
- rung_entries: each trial's value at each rung it reached and what the rule
  made of it, indexed for the rank queries of the report and the claim.
- checkpoints: a paused trial's training state, in SQL beside uploaded datasets.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("searches") as batch:
        batch.add_column(sa.Column("count_paused", sa.Integer(), nullable=False,
                                   server_default="0"))
    with op.batch_alter_table("trials") as batch:
        batch.add_column(sa.Column("bracket", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("rung", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("checkpoint_epoch", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("origin_trial_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_trials_origin_trial_id_trials", "trials",
                                 ["origin_trial_id"], ["id"], ondelete="SET NULL")
    op.create_table(
        "rung_entries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("search_id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("bracket", sa.Integer(), nullable=False),
        sa.Column("rung", sa.Integer(), nullable=False),
        sa.Column("epochs", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["search_id"], ["searches.id"],
                                name="fk_rung_entries_search_id_searches", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["trial_id"], ["trials.id"],
                                name="fk_rung_entries_trial_id_trials", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_rung_entries"),
        sa.UniqueConstraint("trial_id", "rung", name="uq_rung_entries_trial_id_rung"),
    )
    op.create_index("ix_rung_entries_search_id_bracket_rung_value", "rung_entries",
                    ["search_id", "bracket", "rung", "value"])
    op.create_index("ix_rung_entries_search_id_outcome_bracket_rung_value", "rung_entries",
                    ["search_id", "outcome", "bracket", "rung", "value"])
    op.create_table(
        "checkpoints",
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["trial_id"], ["trials.id"],
                                name="fk_checkpoints_trial_id_trials", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("trial_id", name="pk_checkpoints"),
    )


def downgrade() -> None:
    op.drop_table("checkpoints")
    op.drop_index("ix_rung_entries_search_id_outcome_bracket_rung_value",
                  table_name="rung_entries")
    op.drop_index("ix_rung_entries_search_id_bracket_rung_value", table_name="rung_entries")
    op.drop_table("rung_entries")
    with op.batch_alter_table("trials") as batch:
        batch.drop_constraint("fk_trials_origin_trial_id_trials", type_="foreignkey")
        batch.drop_column("origin_trial_id")
        batch.drop_column("checkpoint_epoch")
        batch.drop_column("rung")
        batch.drop_column("bracket")
    with op.batch_alter_table("searches") as batch:
        batch.drop_column("count_paused")
