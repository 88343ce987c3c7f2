"""The searches list in a real browser: newest first, live."""

from __future__ import annotations

import pytest

from tests.dashboard.helpers import create_search, spec
from tests.dashboard.simulated_worker import SimulatedWorker

pytestmark = pytest.mark.browser


def test_searches_are_listed_newest_first_and_appear_live(server, api, open_page, artifacts):
    older = create_search(api, spec("list-older"))
    newer = create_search(api, spec("list-newer"))
    worker = SimulatedWorker(server.url, "sim-list/1")
    worker.run_trials(newer["id"], 3, epochs=2)
    worker.close()
    page = open_page()
    page.goto(f"{server.url}/#/")
    page.wait_for_selector("body[data-ready=searches]")

    ids = [int(i) for i in page.eval_on_selector_all(
        "table.searches tbody tr[data-id]", "rows => rows.map(r => r.dataset.id)")]
    assert ids.index(newer["id"]) < ids.index(older["id"])
    row = page.locator(f"table.searches tr[data-id='{newer['id']}']")
    assert "list-newer" in row.inner_text()
    assert "3 / 12" in row.inner_text()

    latest = create_search(api, spec("list-latest"))
    page.wait_for_selector(f"table.searches tbody tr:first-child[data-id='{latest['id']}']")
    page.screenshot(path=artifacts / "searches-1280x800.png", full_page=True)

    page.click(f"table.searches tr[data-id='{newer['id']}'] a")
    page.wait_for_selector("body[data-ready=search]")
    assert "list-newer" in page.inner_text(".search-header h1")


def test_searches_page_fits_a_phone(server, api, open_page, artifacts):
    create_search(api, spec("list-phone"))
    page = open_page(width=390, height=844)
    page.goto(f"{server.url}/#/")
    page.wait_for_selector("body[data-ready=searches]")
    assert page.evaluate("document.body.scrollWidth") <= 390
    page.screenshot(path=artifacts / "searches-390x844.png", full_page=True)


def test_an_unknown_search_says_so(server, open_page):
    page = open_page(allow=("status of 404",))
    page.goto(f"{server.url}/#/searches/999999")
    page.wait_for_selector("p.error:has-text('does not exist')")
