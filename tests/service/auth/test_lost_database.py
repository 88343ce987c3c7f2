"""A server that requires tokens, whose database is lost: a token it must look up is a 503
naming why, never a 500, on FastAPI's routes and on the worker routes served ahead of them.

The guard answers its refusals before the app's error handlers run, so a database
error raised while it looks a token up used to reach the catch-all: a 500.
"""

from __future__ import annotations

import psycopg
import pytest
from fastapi.testclient import TestClient

from domain.roles import Role
from service.app import create_app
from service.auth.tokens import create_token
from service.settings import Settings
from tests.service.helpers import API
from tests.support.databases import POSTGRES_ADMIN_URL, postgres_database


@pytest.mark.postgres
def test_a_token_the_lost_database_cannot_look_up_is_a_503():
    with postgres_database() as url:
        app = create_app(Settings.from_env({}, database_url=url, auth="required"))
        with TestClient(app, raise_server_exceptions=False) as client:
            tokens = [create_token(app.state.db, f"t{n}", Role.ADMIN)[1] for n in range(2)]
            name = url.rsplit("/", 1)[1]
            with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            answers = [
                client.get(f"{API}/searches", headers={"Authorization": f"Bearer {tokens[0]}"}),
                client.post(f"{API}/trials/claim", json={"worker_id": "w"},
                            headers={"Authorization": f"Bearer {tokens[1]}"}),
            ]
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.json()["detail"].startswith("the database is unavailable: ")
