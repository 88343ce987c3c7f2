"""A server that requires tokens, with one token per role, two users and their rows."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from domain.roles import Role
from service.auth.tokens import create_token
from tests.service.helpers import API, make_spec

CALLERS = ("admin", "alice", "bob", "worker", "reader")
"""Who calls: alice and bob are users; alice owns the rows the paths name."""


@dataclass
class World:
    """The client (no token of its own), each caller's token, and alice's rows."""

    client: TestClient
    tokens: dict[str, str]
    search_id: int
    trial_id: int
    lease_token: str
    dataset_id: int

    def headers(self, caller: str | None) -> dict[str, str]:
        """The Authorization header of a caller (none for None)."""
        return {} if caller is None else {"Authorization": f"Bearer {self.tokens[caller]}"}

    def call(self, caller: str | None, method: str, path: str, **kwargs: Any) -> Any:
        """One request as the caller."""
        return self.client.request(method, path, headers=self.headers(caller), **kwargs)


def npz_bytes(seed: int = 0) -> bytes:
    """A small valid dataset upload."""
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    np.savez(buffer, X=rng.normal(size=(40, 3)), y=rng.integers(0, 2, size=40))
    return buffer.getvalue()


def build_world(client: TestClient) -> World:
    """Tokens of each role on the client's database; alice's search with a claimed trial, and
    her dataset."""
    db = client.app.state.db  # type: ignore[attr-defined]
    roles = {"admin": Role.ADMIN, "alice": Role.USER, "bob": Role.USER,
             "worker": Role.WORKER, "reader": Role.READER}
    tokens = {name: create_token(db, name, role)[1] for name, role in roles.items()}
    world = World(client, tokens, 0, 0, "", 0)
    created = world.call("alice", "POST", f"{API}/searches", json=make_spec())
    assert created.status_code == 201, created.text
    world.search_id = created.json()["id"]
    claimed = world.call("worker", "POST", f"{API}/trials/claim",
                         json={"worker_id": "w/1", "search_id": world.search_id})
    assert claimed.status_code == 200, claimed.text
    world.trial_id, world.lease_token = claimed.json()["trial_id"], claimed.json()["lease_token"]
    uploaded = world.call("alice", "POST", f"{API}/datasets",
                          files={"file": ("d.npz", npz_bytes(), "application/octet-stream")})
    assert uploaded.status_code == 201, uploaded.text
    world.dataset_id = uploaded.json()["id"]
    return world
