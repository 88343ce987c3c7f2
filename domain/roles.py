"""The roles a token can have: one list, for the server and the CLI alike.

What each role may do is the server's business (service.auth.roles.GRANTS);
the CLI only needs the names, to offer them and to check them before it asks.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A token's role."""

    ADMIN = "admin"
    USER = "user"
    WORKER = "worker"
    READER = "reader"
