"""API tokens in the database: made at random, shown once, stored as their SHA-256.

A token is `cvr_` and 43 URL-safe characters (256 random bits), so a plain
SHA-256 is enough to store it (nothing to guess from the hash; a slow hash
would only slow every request). Listings show the first characters
(`prefix`) so a user can tell their tokens apart.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update

from domain.errors import Conflict, NotFound
from domain.roles import Role
from service.auth.roles import Caller
from service.db.models import ApiToken, utcnow
from service.db.session import Database

TOKEN_PREFIX = "cvr_"
SHOWN_CHARACTERS = 10


def new_token() -> str:
    """A new random token."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """The SHA-256 a token is stored and looked up by."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    """A stored token as listings show it (never the token itself)."""

    id: int
    name: str
    role: Role
    owner: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: ApiToken) -> TokenInfo:
        """The info of a row."""
        return cls(row.id, row.name, Role(row.role), row.owner, row.prefix, row.created_at,
                   row.last_used_at, row.revoked_at)


def create_token(db: Database, name: str, role: Role, owner: str | None = None
                 ) -> tuple[TokenInfo, str]:
    """Store a new token for `owner` (default: its name); return its info and the token,
    which is not stored and cannot be shown again."""
    token = new_token()
    now = utcnow()
    with db.write() as session:
        row = ApiToken(name=name, role=str(role), owner=owner or name,
                       prefix=token[:SHOWN_CHARACTERS], hash=token_hash(token), created_at=now)
        session.add(row)
        session.flush()
        return TokenInfo.of(row), token


def list_tokens(db: Database) -> list[TokenInfo]:
    """Every token, revoked ones included, oldest first."""
    with db.read() as session:
        return [TokenInfo.of(row) for row in session.scalars(select(ApiToken)
                                                             .order_by(ApiToken.id))]


def revoke_token(db: Database, token_id: int, caller_token_id: int | None = None
                 ) -> TokenInfo:
    """Revoke a token: it is refused from now on (by every server within `CACHE_SECONDS`
    of service.auth.guard). NotFound if no token has the id; Conflict if already revoked,
    or if it is `caller_token_id`, the token making the call: an admin cannot lock itself
    out by mistake (and the last admin token never goes by the API)."""
    with db.write() as session:
        row = session.get(ApiToken, token_id)
        if row is None:
            raise NotFound(f"no token has id {token_id}")
        if token_id == caller_token_id:
            raise Conflict(f"token {token_id} ({row.name!r}) is the one making this call: "
                           "revoke it with another admin token, or on the server's machine "
                           "with `caviar token revoke --database-url`")
        if row.revoked_at is not None:
            raise Conflict(f"token {token_id} ({row.name!r}) is already revoked")
        row.revoked_at = utcnow()
        session.flush()
        return TokenInfo.of(row)


def caller_of(db: Database, token: str) -> Caller | None:
    """The caller a token stands for, or None if no live token is this one."""
    with db.read() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.hash == token_hash(token),
                                                    ApiToken.revoked_at.is_(None)))
        if row is None:
            return None
        return Caller(token_id=row.id, name=row.name, role=Role(row.role), owner=row.owner)


def mark_used(db: Database, token_id: int, when: datetime) -> None:
    """Record when a token was last used."""
    with db.write() as session:
        session.execute(update(ApiToken).where(ApiToken.id == token_id)
                        .values(last_used_at=when))


def has_live_tokens(db: Database) -> bool:
    """Whether the database holds a token that is not revoked."""
    with db.read() as session:
        count = session.scalar(select(func.count()).select_from(ApiToken)
                               .where(ApiToken.revoked_at.is_(None)))
        return bool(count)
