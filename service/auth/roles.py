"""Roles, the permissions each grants, and the caller a request is made by.

One table (`GRANTS`) says what each role may do; routes name the permission
they need (service.api.access), never a role.

| role | may |
| --- | --- |
| admin | everything, tokens included, on every owner's searches |
| user | submit, read, stop and cancel their own searches; upload and read their own datasets |
| worker | claim and write trials and checkpoints, download datasets; read the fleet's demand |
| reader | read every search, trial and dataset, /metrics and the fleet's demand; change nothing |
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.roles import Role


class Permission(StrEnum):
    """What a route needs of its caller."""

    READ = "read"  # searches, trials, datasets (a user: their own)
    SUBMIT = "submit"  # create, stop, cancel, re-test searches; upload datasets
    WORK = "work"  # the worker protocol and checkpoints
    DOWNLOAD = "download"  # a dataset's bytes (a user: their own)
    MONITOR = "monitor"  # /metrics
    SCALE = "scale"  # the fleet's demand (/api/v1/fleet): what an autoscaler reads
    MANAGE = "manage"  # tokens


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.USER: frozenset({Permission.READ, Permission.SUBMIT, Permission.DOWNLOAD}),
    Role.WORKER: frozenset({Permission.WORK, Permission.DOWNLOAD, Permission.SCALE}),
    Role.READER: frozenset({Permission.READ, Permission.DOWNLOAD, Permission.MONITOR,
                            Permission.SCALE}),
}
SEES_EVERY_OWNER = frozenset({Role.ADMIN, Role.WORKER, Role.READER})
"""Roles not limited to their own owner's searches and datasets (a user is)."""


@dataclass(frozen=True)
class Caller:
    """Who makes a request: a token's id, name, role and owner.

    `token_id` is None for the one caller of a server running without
    authentication, which may do everything and owns what it creates as None.
    """

    token_id: int | None
    name: str
    role: Role
    owner: str | None

    def may(self, permission: Permission) -> bool:
        """Whether the caller's role grants the permission."""
        return permission in GRANTS[self.role]

    @property
    def owner_scope(self) -> str | None:
        """The owner whose rows the caller is limited to, or None for every owner's."""
        return None if self.role in SEES_EVERY_OWNER else self.owner


OPEN_CALLER = Caller(token_id=None, name="anyone", role=Role.ADMIN, owner=None)
"""The caller of every request to a server that runs without authentication."""
