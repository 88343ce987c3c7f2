"""The search page against a server on PostgreSQL: renders, then follows a trial live."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.dashboard.helpers import create_search, open_search, spec, table_statuses
from tests.dashboard.simulated_worker import SimulatedWorker
from tests.support.databases import postgres_database
from tests.support.processes import Server, live_server

pytestmark = [pytest.mark.browser, pytest.mark.postgres]


@pytest.fixture(scope="module")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("dashboard-postgres")
    with postgres_database() as url, live_server(url, folder) as running:
        yield running


def test_search_page_on_postgres_follows_a_trial_live(postgres_server, open_page):
    with httpx.Client(base_url=f"{postgres_server.url}/api/v1", timeout=30) as api:
        search = create_search(api, spec("postgres"))
    worker = SimulatedWorker(postgres_server.url, "sim-pg/1")
    worker.run_trials(search["id"], 3, epochs=3)
    trial = worker.claim(search["id"])
    worker.report(trial)
    page = open_page()
    open_search(page, postgres_server.url, search["id"])
    assert page.inner_text("[data-count=completed]") == "3"
    assert table_statuses(page)[trial.id] == "running"

    worker.complete(trial)
    worker.close()
    page.wait_for_selector(f"#trial-table tr[data-id='{trial.id}'][data-status=completed]")
    page.wait_for_function("() => document.querySelector('#chart-best').data[0].x.length === 4")
