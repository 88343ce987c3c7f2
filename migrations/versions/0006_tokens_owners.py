"""API tokens, and the owner of each search and uploaded dataset

- api_tokens: one row per token (its SHA-256, never the token), with a name, a role,
  the owner whose searches it acts on, and its created, last-used and revoked times.
- searches.owner, datasets.owner: the owner of the token that created the row (NULL
  for rows made by a server running without authentication).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("hash", name="uq_api_tokens_hash"),
    )
    with op.batch_alter_table("searches") as batch:
        batch.add_column(sa.Column("owner", sa.String(200), nullable=True))
        batch.create_index("ix_searches_owner", ["owner"])
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("owner", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.drop_column("owner")
    with op.batch_alter_table("searches") as batch:
        batch.drop_index("ix_searches_owner")
        batch.drop_column("owner")
    op.drop_table("api_tokens")
