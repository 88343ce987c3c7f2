"""Tokens on a server that requires them, on every database kind: owners, revocation,
rate limits, the cap on open searches, and what is stored."""

from __future__ import annotations

from typing import Any

import pytest

from domain.roles import Role
from service.app import create_app
from service.auth.tokens import create_token
from service.settings import Settings
from tests.service.auth.world import npz_bytes
from tests.service.helpers import API, dump_tables, make_spec


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def authed(make_client):
    """A client of a server requiring tokens, and a factory of tokens on its database."""
    client = make_client(auth="required")

    def token(name: str, role: Role, owner: str | None = None) -> str:
        return create_token(client.app.state.db, name, role, owner)[1]

    return client, token


def create(client: Any, token: str, **overrides: Any) -> dict[str, Any]:
    response = client.post(f"{API}/searches", json=make_spec(**overrides),
                           headers=bearer(token))
    assert response.status_code == 201, response.text
    return response.json()


def test_a_user_lists_and_reads_only_their_own_searches(authed):
    client, token = authed
    alice, bob = token("alice", Role.USER), token("bob", Role.USER)
    reader, admin = token("eve", Role.READER), token("root", Role.ADMIN)
    mine = create(client, alice)
    theirs = create(client, bob)
    assert mine["owner"] == "alice" and theirs["owner"] == "bob"
    listed = client.get(f"{API}/searches", headers=bearer(alice)).json()
    assert [s["id"] for s in listed["items"]] == [mine["id"]] and listed["total"] == 1
    for everyone in (reader, admin):
        assert client.get(f"{API}/searches", headers=bearer(everyone)).json()["total"] == 2
    hidden = client.get(f"{API}/searches/{theirs['id']}", headers=bearer(alice))
    missing = client.get(f"{API}/searches/999999", headers=bearer(alice))
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"] == f"search {theirs['id']} not found"


def test_tokens_of_one_owner_share_its_searches(authed):
    client, token = authed
    laptop, ci = token("alice-laptop", Role.USER, "alice"), token("alice-ci", Role.USER, "alice")
    made = create(client, laptop)
    assert client.get(f"{API}/searches/{made['id']}", headers=bearer(ci)).status_code == 200


def test_a_spec_naming_another_user_s_dataset_is_refused_as_missing(authed):
    client, token = authed
    alice, bob = token("alice", Role.USER), token("bob", Role.USER)
    uploaded = client.post(f"{API}/datasets", headers=bearer(bob),
                           files={"file": ("d.npz", npz_bytes(), "application/octet-stream")})
    assert uploaded.status_code == 201 and uploaded.json()["owner"] == "bob"
    dataset = {"id": uploaded.json()["id"]}
    refused = client.post(f"{API}/searches", headers=bearer(alice),
                          json=make_spec(dataset=dataset))
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "dataset", "id"]
    assert client.get(f"{API}/datasets", headers=bearer(alice)).json()["total"] == 0
    create(client, bob, dataset=dataset)


def test_a_revoked_token_is_refused_at_once(authed):
    client, token = authed
    admin, alice = token("root", Role.ADMIN), token("alice", Role.USER)
    assert client.get(f"{API}/whoami", headers=bearer(alice)).json() == {
        "name": "alice", "role": "user", "owner": "alice", "authentication": "tokens"}
    listed = client.get(f"{API}/tokens", headers=bearer(admin)).json()["items"]
    alice_id = next(item["id"] for item in listed if item["name"] == "alice")
    revoked = client.post(f"{API}/tokens/{alice_id}/revoke", headers=bearer(admin))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    refused = client.get(f"{API}/whoami", headers=bearer(alice))
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]


def test_a_token_cannot_revoke_itself(authed):
    client, token = authed
    root, second = token("root", Role.ADMIN), token("second", Role.ADMIN)
    ids = {item["name"]: item["id"] for item in
           client.get(f"{API}/tokens", headers=bearer(root)).json()["items"]}
    refused = client.post(f"{API}/tokens/{ids['root']}/revoke", headers=bearer(root))
    assert refused.status_code == 409, refused.text
    assert "making this call" in refused.json()["detail"]
    assert client.get(f"{API}/whoami", headers=bearer(root)).status_code == 200
    revoked = client.post(f"{API}/tokens/{ids['root']}/revoke", headers=bearer(second))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]


@pytest.mark.parametrize("header", ["", "Bearer", "Basic YWxpY2U6cHc=", "Bearer nope",
                                    "Bearer " + "x" * 5000])
def test_a_missing_or_malformed_token_is_401_naming_the_header(authed, header):
    client, _ = authed
    headers = {"Authorization": header} if header else {}
    refused = client.get(f"{API}/searches", headers=headers)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    assert "token" in refused.json()["detail"]


def test_tokens_are_stored_hashed_and_their_use_is_recorded(authed):
    client, token = authed
    admin = token("root", Role.ADMIN)
    made = client.post(f"{API}/tokens", headers=bearer(admin),
                       json={"name": "rack-3", "role": "worker"}).json()
    secret = made["token"]
    assert secret.startswith(made["prefix"]) and len(secret) > 40
    assert secret not in repr(dump_tables(client.app.state.db.url))
    assert client.post(f"{API}/trials/claim", headers=bearer(secret),
                       json={"worker_id": "w/1"}).status_code == 204
    listed = client.get(f"{API}/tokens", headers=bearer(admin)).json()["items"]
    used = next(item for item in listed if item["name"] == "rack-3")
    assert used["last_used_at"] is not None and "token" not in used


def test_a_token_over_its_rate_gets_429_with_retry_after(make_client):
    client = make_client(auth="required", rate_limit=2, worker_rate_limit=1000)
    db = client.app.state.db
    reader = create_token(db, "eve", Role.READER)[1]
    worker = create_token(db, "rack", Role.WORKER)[1]
    answers = [client.get(f"{API}/searches", headers=bearer(reader)).status_code
               for _ in range(30)]
    assert answers[:10] == [200] * 10 and 429 in answers
    limited = client.get(f"{API}/searches", headers=bearer(reader))
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert "at most 2 a second" in limited.json()["detail"]
    claims = [client.post(f"{API}/trials/claim", headers=bearer(worker),
                          json={"worker_id": "w"}).status_code for _ in range(30)]
    assert claims == [204] * 30  # another token, another role's rate


def test_an_owner_may_keep_only_so_many_searches_open(make_client):
    client = make_client(auth="required", max_open_searches=2)
    db = client.app.state.db
    alice, bob = (create_token(db, name, Role.USER)[1] for name in ("alice", "bob"))
    first = create(client, alice)
    create(client, alice)
    before = dump_tables(db.url)
    refused = client.post(f"{API}/searches", json=make_spec(), headers=bearer(alice))
    assert refused.status_code == 409
    assert "CAVIAR_MAX_OPEN_SEARCHES" in refused.json()["detail"]
    assert dump_tables(db.url) == before
    create(client, bob)  # the cap is per owner
    client.post(f"{API}/searches/{first['id']}/cancel", headers=bearer(alice))
    create(client, alice)


def test_auto_requires_tokens_once_the_database_holds_one(database_url):
    open_app = create_app(Settings(database_url=database_url))
    assert not open_app.state.guard.required
    create_token(open_app.state.db, "root", Role.ADMIN)
    open_app.state.db.dispose()
    app = create_app(Settings(database_url=database_url))
    assert app.state.guard.required
    app.state.db.dispose()
    off = create_app(Settings(database_url=database_url, auth="off"))
    assert not off.state.guard.required
    off.state.db.dispose()
