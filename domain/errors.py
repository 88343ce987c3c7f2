"""Errors of Caviar's domain that the server answers with a status: 404, 409 and 422.

Raised by the lifecycle and the store; the API turns each into its JSON answer
(service.api.errors).
"""

from __future__ import annotations

from collections.abc import Sequence


class NotFound(Exception):
    """404: the named resource does not exist; the message is a sentence naming it."""


class Conflict(Exception):
    """409: the request is valid but the resource's state forbids it (a lost lease...)."""


class Invalid(Exception):
    """422: a field breaks a rule the schema could not check (a missing dataset id...)."""

    def __init__(self, loc: Sequence[str | int], msg: str, type: str = "value_error") -> None:
        super().__init__(f"{'.'.join(map(str, loc))}: {msg}")
        self.loc = tuple(loc)
        self.msg = msg
        self.type = type

    def as_detail(self) -> dict[str, object]:
        """The error as one item of a 422 `detail` list."""
        return {"loc": list(self.loc), "msg": self.msg, "type": self.type}
