"""Signing in to the dashboard of a server that requires tokens, in a real browser: the token
in this tab's sessionStorage only, sent on every API request, dropped on a 401."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Page

from domain.roles import Role
from service.auth.tokens import create_token
from service.db.migrate import upgrade_to_head
from service.db.session import Database
from tests.dashboard.helpers import create_search, spec
from tests.support.databases import sqlite_url
from tests.support.processes import Server, live_server

pytestmark = pytest.mark.browser

UNAUTHORIZED = ("status of 401",)
"""The console error Chromium logs for each 401: expected while signed out."""
TOKEN_KEY = "caviar.token"
ROLES = {"admin": Role.ADMIN, "alice": Role.USER, "bob": Role.USER, "reader": Role.READER}


@dataclass
class Secured:
    """A live server that requires tokens, each name's token, and an API client per name."""

    server: Server
    tokens: dict[str, str]
    clients: dict[str, httpx.Client]

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    """One `caviar serve` with CAVIAR_AUTH=required for the module; its tokens are made on
    the database before it starts."""
    folder = tmp_path_factory.mktemp("dashboard-tokens")
    url = sqlite_url(folder)
    db = Database(url)
    try:
        upgrade_to_head(db.write_engine)
        tokens = {name: create_token(db, name, role)[1] for name, role in ROLES.items()}
    finally:
        db.dispose()
    with live_server(url, folder, env={"CAVIAR_AUTH": "required"}) as server:
        clients = {name: httpx.Client(base_url=f"{server.url}/api/v1", timeout=30,
                                      headers={"Authorization": f"Bearer {token}"})
                   for name, token in tokens.items()}
        yield Secured(server, tokens, clients)
        for client in clients.values():
            client.close()


def storage(page: Page) -> dict[str, object]:
    """What the page keeps: this tab's token, localStorage's keys, and its cookies."""
    return page.evaluate("""key => ({
        session: sessionStorage.getItem(key),
        local: Object.keys(localStorage),
        cookie: document.cookie,
    })""", TOKEN_KEY)


def sign_in(page: Page, token: str) -> None:
    """Fill and send the sign-in form (the page shows it)."""
    page.wait_for_selector("body[data-ready=sign-in]")
    page.fill("#token", token)
    page.click(".sign-in button[type=submit]")


def shown_search_ids(page: Page) -> set[int]:
    return {int(i) for i in page.eval_on_selector_all(
        "table.searches tbody tr[data-id]", "rows => rows.map(r => r.dataset.id)")}


def test_a_user_signs_in_and_sees_only_their_searches(secured, open_page, artifacts):
    hers = create_search(secured.clients["alice"], spec("alice-search"))
    his = create_search(secured.clients["bob"], spec("bob-search"))
    page = open_page(allow=UNAUTHORIZED)
    sent: list[tuple[str, str | None]] = []
    page.on("request", lambda request: sent.append((request.url,
                                                     request.headers.get("authorization"))))
    page.goto(f"{secured.url}/#/")
    page.wait_for_selector("body[data-ready=sign-in]")
    assert page.get_attribute("#token", "type") == "password"
    assert page.get_attribute("#token", "name") is None  # never part of a form submission
    assert page.is_hidden("#session")
    page.screenshot(path=artifacts / "sign-in-1280x800.png", full_page=True)

    sign_in(page, secured.tokens["alice"])
    page.wait_for_selector("body[data-ready=searches]")
    shown = shown_search_ids(page)
    assert hers["id"] in shown
    assert his["id"] not in shown
    assert page.inner_text("#session .who") == "alice user"
    assert page.is_visible("#session button.sign-out")
    assert storage(page) == {"session": secured.tokens["alice"], "local": [], "cookie": ""}

    # The next poll carries the token too; no request put it in its URL.
    with page.expect_request(lambda request: "/api/v1/searches" in request.url):
        pass
    api_calls = [(url, header) for url, header in sent if "/api/v1/" in url]
    signed = [header for url, header in api_calls if not url.endswith("/whoami")
              and header is not None]
    assert len(signed) >= 2
    assert set(signed) == {f"Bearer {secured.tokens['alice']}"}
    assert not any(secured.tokens["alice"] in url for url, _ in sent)
    assert secured.tokens["alice"] not in page.url
    page.screenshot(path=artifacts / "signed-in-1280x800.png", full_page=True)


def test_a_wrong_token_is_refused_and_the_form_stays(secured, open_page, artifacts):
    page = open_page(width=390, height=844, allow=UNAUTHORIZED)
    page.goto(f"{secured.url}/#/")
    sign_in(page, "cvr_not-a-token")
    status = page.wait_for_selector("#sign-in-status.error")
    assert status.inner_text() == "Sign-in failed: the token is not valid (unknown or revoked)"
    assert page.get_attribute("body", "data-ready") == "sign-in"
    assert page.is_enabled(".sign-in button[type=submit]")
    assert storage(page)["session"] is None
    assert page.evaluate("document.body.scrollWidth") <= 390
    page.screenshot(path=artifacts / "sign-in-refused-390x844.png", full_page=True)

    sign_in(page, secured.tokens["bob"])
    page.wait_for_selector("body[data-ready=searches]")
    assert page.is_hidden("#sign-in-status")


def test_a_new_tab_or_browser_context_starts_signed_out(secured, open_page, browser):
    page = open_page(allow=UNAUTHORIZED)
    page.goto(f"{secured.url}/#/")
    sign_in(page, secured.tokens["alice"])
    page.wait_for_selector("body[data-ready=searches]")

    same_context = page.context.new_page()
    same_context.goto(f"{secured.url}/#/")
    same_context.wait_for_selector("body[data-ready=sign-in]")
    assert storage(same_context)["session"] is None

    other = browser.new_context()
    try:
        fresh = other.new_page()
        fresh.goto(f"{secured.url}/#/")
        fresh.wait_for_selector("body[data-ready=sign-in]")
        assert storage(fresh)["session"] is None
    finally:
        other.close()
    # The first tab is still signed in.
    assert storage(page)["session"] == secured.tokens["alice"]


def test_signing_out_returns_to_the_sign_in_view(secured, open_page):
    page = open_page(allow=UNAUTHORIZED)
    page.goto(f"{secured.url}/#/")
    sign_in(page, secured.tokens["bob"])
    page.wait_for_selector("body[data-ready=searches]")

    page.click("#session button.sign-out")
    page.wait_for_selector("body[data-ready=sign-in]")
    assert page.inner_text("#sign-in-status") == "Signed out."
    assert page.is_hidden("#session")
    assert storage(page)["session"] is None
    page.reload()
    page.wait_for_selector("body[data-ready=sign-in]")


def test_a_revoked_token_signs_the_tab_out_at_the_next_poll(secured, open_page):
    made = secured.clients["admin"].post("/tokens", json={"name": "carol", "role": "user"})
    assert made.status_code == 201, made.text
    carol = made.json()
    with httpx.Client(base_url=f"{secured.url}/api/v1", timeout=30,
                      headers={"Authorization": f"Bearer {carol['token']}"}) as client:
        search = create_search(client, spec("carol-search"))
    page = open_page(allow=UNAUTHORIZED)
    page.goto(f"{secured.url}/#/searches/{search['id']}")
    sign_in(page, carol["token"])
    page.wait_for_selector("body[data-ready=search]")
    assert "carol-search" in page.inner_text(".search-header h1")

    revoked = secured.clients["admin"].post(f"/tokens/{carol['id']}/revoke")
    assert revoked.status_code == 200, revoked.text
    page.wait_for_selector("body[data-ready=sign-in]", timeout=10_000)
    message = page.inner_text("#sign-in-status.error")
    assert message == ("Signed out: the token is not valid (unknown or revoked). "
                       "Sign in again.")
    assert page.is_hidden("#session")
    assert page.is_hidden("#notice")
    assert storage(page)["session"] is None
    # Signing in again lands on the page the tab was on.
    sign_in(page, secured.tokens["admin"])
    page.wait_for_selector("body[data-ready=search]")
    assert page.inner_text("#session .who") == "admin admin"


def test_a_reader_who_presses_cancel_sees_the_servers_refusal(secured, open_page):
    search = create_search(secured.clients["alice"], spec("read-only"))
    page = open_page(allow=UNAUTHORIZED + ("status of 403",))
    page.goto(f"{secured.url}/#/searches/{search['id']}")
    sign_in(page, secured.tokens["reader"])
    page.wait_for_selector("body[data-ready=search]")
    assert page.inner_text("#session .who") == "reader reader"

    page.click(".search-header button.cancel")
    page.click(".search-header button.confirm-yes")
    notice = page.wait_for_selector("#notice.error")
    assert notice.inner_text() == (
        "Cancel failed: token 'reader' has role 'reader', which may not do this: it needs "
        "the 'submit' permission (roles: admin, user)")
    assert page.get_attribute("body", "data-ready") == "search"
    assert secured.clients["alice"].get(f"/searches/{search['id']}").json()["status"] == (
        "running")


def test_an_open_server_shows_no_sign_in(server, open_page):
    page = open_page()
    page.goto(f"{server.url}/#/")
    page.wait_for_selector("body[data-ready=searches]")
    page.wait_for_selector("#session .open")
    assert page.inner_text("#session") == "open server: no tokens"
    assert page.query_selector(".sign-in") is None
    assert page.query_selector("#session button.sign-out") is None
    assert storage(page)["session"] is None
