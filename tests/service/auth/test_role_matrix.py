"""Each role may do exactly what the issue's list says, on every route: the matrix below is
the list, one row per route; every (route, caller) pair is a test.

| role | may |
| --- | --- |
| admin | everything, tokens included |
| user | submit, read, stop and cancel their own searches; upload datasets |
| worker | claim and write trials, download datasets, read the fleet's demand; nothing else |
| reader | read-only (the fleet's demand included) |

A caller whose role may not call a route gets 403; a user calling on another user's search,
trial or dataset gets 404, as for one that does not exist; without a token, 401.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from domain.roles import Role
from service.app import create_app
from service.auth.tokens import create_token
from service.settings import Settings
from tests.service.auth.world import CALLERS, World, build_world, npz_bytes
from tests.service.helpers import API, make_spec

A, U, W, R = "admin", "user", "worker", "reader"
EVERYONE = {A, U, W, R}
SHA = "0" * 64

# (method, path, roles allowed, whether the row is the caller's own (user: alice's only),
#  the request's keyword arguments). Paths name {search}, {trial}, {dataset}, {token}.
MATRIX: list[tuple[str, str, set[str], bool, Callable[[World], dict[str, Any]]]] = [
    ("POST", "/searches", {A, U}, False, lambda w: {"json": make_spec()}),
    ("GET", "/searches", {A, U, R}, False, lambda w: {}),
    ("GET", "/searches/{search}", {A, U, R}, True, lambda w: {}),
    ("POST", "/searches/{search}/cancel", {A, U}, True, lambda w: {}),
    ("GET", "/searches/{search}/trials", {A, U, R}, True, lambda w: {}),
    ("POST", "/searches/{search}/retest", {A, U}, True,
     lambda w: {"json": {"top": 1, "seeds": 1}}),
    ("GET", "/searches/{search}/leaderboard", {A, U, R}, True, lambda w: {}),
    ("GET", "/searches/{search}/rungs", {A, U, R}, True, lambda w: {}),
    ("GET", "/searches/{search}/importance", {A, U, R}, True, lambda w: {}),
    ("GET", "/trials/{trial}", {A, U, R}, True, lambda w: {}),
    ("POST", "/trials/{trial}/stop", {A, U}, True, lambda w: {}),
    ("POST", "/trials/claim", {A, W}, False,
     lambda w: {"json": {"worker_id": "w/2", "search_id": w.search_id}}),
    ("POST", "/trials/{trial}/heartbeat", {A, W}, False,
     lambda w: {"json": {"lease_token": "stale"}}),
    ("POST", "/trials/{trial}/report", {A, W}, False,
     lambda w: {"json": {"lease_token": "stale", "epoch": 1, "metrics": {"dev_accuracy": 0.5}}}),
    ("POST", "/trials/{trial}/complete", {A, W}, False,
     lambda w: {"json": {"lease_token": "stale", "metrics": {"dev_accuracy": 0.5}}}),
    ("POST", "/trials/{trial}/fail", {A, W}, False,
     lambda w: {"json": {"lease_token": "stale", "error": "boom"}}),
    ("PUT", "/trials/{trial}/checkpoint", {A, W}, False,
     lambda w: {"params": {"lease_token": "stale", "epoch": 1, "sha256": SHA},
                "content": b"x"}),
    ("GET", "/trials/{trial}/checkpoint", {A, W}, False,
     lambda w: {"params": {"lease_token": "stale"}}),
    ("POST", "/datasets", {A, U}, False,
     lambda w: {"files": {"file": ("d.npz", npz_bytes(1), "application/octet-stream")}}),
    ("GET", "/datasets", {A, U, R}, False, lambda w: {}),
    ("GET", "/datasets/{dataset}/data", {A, U, W, R}, True, lambda w: {}),
    ("POST", "/tokens", {A}, False, lambda w: {"json": {"name": "extra", "role": "reader"}}),
    ("GET", "/tokens", {A}, False, lambda w: {}),
    ("POST", "/tokens/{token}/revoke", {A}, False, lambda w: {}),
    ("GET", "/whoami", EVERYONE, False, lambda w: {}),
    ("GET", "/fleet", {A, W, R}, False, lambda w: {}),
    ("GET", "/metrics", {A, R}, False, lambda w: {}),
    ("GET", "/openapi.json", EVERYONE, False, lambda w: {}),
    ("GET", "/docs", EVERYONE, False, lambda w: {}),
]
OUTSIDE_API = {"/metrics", "/openapi.json", "/docs"}
ROLE_OF = {"admin": A, "alice": U, "bob": U, "worker": W, "reader": R}


def url(world: World, path: str) -> str:
    """The route's URL with the world's ids (a fresh token for each revoke)."""
    token_id = 0
    if "{token}" in path:
        token_id = create_token(world.client.app.state.db, "doomed", Role.READER)[0].id
    filled = path.format(search=world.search_id, trial=world.trial_id,
                         dataset=world.dataset_id, token=token_id)
    return filled if path in OUTSIDE_API else API + filled


@pytest.fixture(scope="module", params=["dispatch", "fastapi"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[World]:
    """A server requiring tokens (serving the worker routes both ways), on SQLite."""
    folder: Path = tmp_path_factory.mktemp("roles")
    settings = Settings(database_url=f"sqlite:///{folder / 'caviar.db'}", auth="required",
                        rate_limit=10_000)
    with ExitStack() as stack:
        client = stack.enter_context(TestClient(create_app(
            settings, fast_worker_routes=request.param == "dispatch"),
            raise_server_exceptions=False))
        yield build_world(client)


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(("method", "path", "allowed", "owned", "extra"), MATRIX,
                         ids=[f"{m} {p}" for m, p, *_ in MATRIX])
def test_each_role_may_do_what_the_list_says(world, caller, method, path, allowed, owned,
                                             extra):
    response = world.call(caller, method, url(world, path), **extra(world))
    role = ROLE_OF[caller]
    if role not in allowed:
        assert response.status_code == 403, response.text
        assert f"role '{role}'" in response.json()["detail"]
    elif owned and caller == "bob":
        assert response.status_code == 404, response.text
    else:
        assert response.status_code not in (401, 403, 404, 429), response.text
        assert response.status_code < 500, response.text


@pytest.mark.parametrize(("method", "path", "allowed", "owned", "extra"), MATRIX,
                         ids=[f"{m} {p}" for m, p, *_ in MATRIX])
def test_without_a_token_every_route_is_401(world, method, path, allowed, owned, extra):
    response = world.call(None, method, url(world, path), **extra(world))
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "CAVIAR_TOKEN" in response.json()["detail"]


def test_the_matrix_covers_every_route(world):
    documented = {(method.upper(), path.removeprefix(API))
                  for path, operations in world.client.get(
                      "/openapi.json", headers=world.headers("reader")).json()["paths"].items()
                  for method in operations}
    listed = {(method, path.replace("{search}", "{search_id}").replace("{trial}", "{trial_id}")
               .replace("{dataset}", "{dataset_id}").replace("{token}", "{token_id}"))
              for method, path, *_ in MATRIX}
    assert documented - {("GET", "/healthz")} <= listed, documented - listed


def test_healthz_and_the_sign_in_page_need_no_token(world):
    assert world.call(None, "GET", "/healthz").status_code == 200
    page = world.call(None, "GET", "/")
    assert page.status_code == 200 and "<html" in page.text.lower()
