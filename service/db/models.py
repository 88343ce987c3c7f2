"""The tables: searches, trials, their per-epoch rows, uploaded datasets and API tokens.

Times are naive UTC datetimes (`utcnow`). States are the strings of
domain.lifecycle.states; a trial's `stop_cause` says why it stopped short of
finishing on its own (a StopCause), its `stop_reason` what its worker was told.
Every change of a trial bumps its search's `last_seq` and stores the new value
in the trial's `seq`, in the same transaction, so `seq` orders changes by commit
(the `since` cursor).
Counts of trials by status are kept on the search row, updated with each
change, so that claims and reads need no scan of the trials.
"""

from __future__ import annotations

import builtins
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from domain.lifecycle.states import TrialStatus

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}



def utcnow() -> datetime:
    """Now, as the naive UTC datetime the tables store."""
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    """Declarative base with named constraints (so migrations can refer to them)."""

    metadata = MetaData(naming_convention=NAMING)


class Search(Base):
    """One search: its normalized spec, status, trial counts and change cursor."""

    __tablename__ = "searches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    max_trials: Mapped[int] = mapped_column(Integer)
    n_trials: Mapped[int] = mapped_column(Integer, default=0)
    n_retests: Mapped[int] = mapped_column(Integer, default=0)
    count_pending: Mapped[int] = mapped_column(Integer, default=0)
    count_running: Mapped[int] = mapped_column(Integer, default=0)
    count_paused: Mapped[int] = mapped_column(Integer, default=0)
    count_completed: Mapped[int] = mapped_column(Integer, default=0)
    count_failed: Mapped[int] = mapped_column(Integer, default=0)
    count_pruned: Mapped[int] = mapped_column(Integer, default=0)
    count_cancelled: Mapped[int] = mapped_column(Integer, default=0)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    rounds: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    best_trial_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    best_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    owner: Mapped[str | None] = mapped_column(String(200), nullable=True)

    __table_args__ = (Index("ix_searches_status_id", "status", "id"),
                      Index("ix_searches_owner", "owner"))


_RUNNING_WITH_KEY = text(f"status = '{TrialStatus.RUNNING}' AND claim_key IS NOT NULL")


class Trial(Base):
    """One trial of a search: its params, lease, progress and result."""

    __tablename__ = "trials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    search_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("searches.id", ondelete="CASCADE")
    )
    number: Mapped[int] = mapped_column(Integer)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    round: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    worker_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # The worker's name for the claim that took this attempt (ClaimRequest.claim_key).
    claim_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    last_epoch: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    stop_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    stop_cause: Mapped[str | None] = mapped_column(String(32), nullable=True)
    bracket: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rung: Mapped[int | None] = mapped_column(Integer, nullable=True)
    checkpoint_epoch: Mapped[int | None] = mapped_column(Integer, nullable=True)
    origin_trial_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("trials.id", ondelete="SET NULL"), nullable=True
    )
    seq: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    __table_args__ = (
        UniqueConstraint("search_id", "number", name="uq_trials_search_id_number"),
        Index("ix_trials_search_id_status_number", "search_id", "status", "number"),
        Index("ix_trials_search_id_seq", "search_id", "seq"),
        Index("ix_trials_lease_expires_at", "lease_expires_at"),
        # A claim key takes one running trial per worker (migration 0008); a claim with a
        # key looks its trial up here.
        Index("uq_trials_running_claim_key", "worker_id", "claim_key", unique=True,
              postgresql_where=_RUNNING_WITH_KEY, sqlite_where=_RUNNING_WITH_KEY),
    )


class Intermediate(Base):
    """One epoch's report of a trial; `value` is the objective metric at that epoch."""

    __tablename__ = "intermediate"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(Integer, ForeignKey("trials.id", ondelete="CASCADE"))
    epoch: Mapped[int] = mapped_column(Integer)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (
        UniqueConstraint("trial_id", "epoch", name="uq_intermediate_trial_id_epoch"),
    )


class RungEntry(Base):
    """A trial's objective value at a rung it reached (ASHA, Hyperband), and what the rule
    made of it: continued at once, stopped, paused, or paused and later resumed."""

    __tablename__ = "rung_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    search_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("searches.id", ondelete="CASCADE")
    )
    trial_id: Mapped[int] = mapped_column(Integer, ForeignKey("trials.id", ondelete="CASCADE"))
    bracket: Mapped[int] = mapped_column(Integer)
    rung: Mapped[int] = mapped_column(Integer)
    epochs: Mapped[int] = mapped_column(Integer)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (
        UniqueConstraint("trial_id", "rung", name="uq_rung_entries_trial_id_rung"),
        Index("ix_rung_entries_search_id_bracket_rung_value", "search_id", "bracket", "rung",
              "value"),
        Index("ix_rung_entries_search_id_outcome_bracket_rung_value", "search_id", "outcome",
              "bracket", "rung", "value"),
    )


class Checkpoint(Base):
    """A paused trial's training state (an .npz written by the worker's engine), kept in
    SQL beside uploaded datasets so that it changes in the same transaction as the trial
    and every server of a fleet sees it without a shared disk."""

    __tablename__ = "checkpoints"

    trial_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("trials.id", ondelete="CASCADE"), primary_key=True
    )
    epoch: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    bytes: Mapped[int] = mapped_column(Integer)
    data: Mapped[builtins.bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Dataset(Base):
    """An uploaded dataset: its bytes, checksum and shape."""

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    format: Mapped[str] = mapped_column(String(8))
    label_column: Mapped[str | None] = mapped_column(String(200), nullable=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    n_samples: Mapped[int] = mapped_column(Integer)
    n_features: Mapped[int] = mapped_column(Integer)
    n_classes: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[builtins.bytes] = mapped_column(LargeBinary)  # `bytes` is the column above
    created_at: Mapped[datetime] = mapped_column(DateTime)
    owner: Mapped[str | None] = mapped_column(String(200), nullable=True)


class ApiToken(Base):
    """An API token: its SHA-256 (never the token), name, role, owner and times.

    `owner` names whose searches and datasets the token acts on; `prefix` is the
    token's first characters, shown in listings so a user can tell tokens apart.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
