"""The search page's fetched views in a real browser: the rungs of an ASHA search driven
through the worker protocol (with a paused trial), parameter importance, and the re-test
leaderboard."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.dashboard.helpers import chart, create_search, open_search, requests_to, spec
from tests.dashboard.simulated_worker import Claimed, SimulatedWorker

pytestmark = pytest.mark.browser


@pytest.fixture
def worker(server):
    simulated = SimulatedWorker(server.url, "sim-rungs/1")
    yield simulated
    simulated.close()


def report(worker: SimulatedWorker, trial: Claimed, value: float) -> str:
    """Report the trial's next epoch with this objective value; the server's action."""
    answer = worker.http.post(f"/trials/{trial.id}/report", json={
        "lease_token": trial.assignment["lease_token"], "epoch": trial.epochs,
        "metrics": {"dev_accuracy": value, "dev_loss": 1 - value}})
    answer.raise_for_status()
    trial.epochs += 1
    return answer.json()["action"]


def pause(worker: SimulatedWorker, trial: Claimed) -> None:
    """Store the checkpoint a trial told to pause sends."""
    data = b"weights"
    worker.http.put(f"/trials/{trial.id}/checkpoint", content=data, params={
        "lease_token": trial.assignment["lease_token"], "epoch": trial.epochs,
        "sha256": hashlib.sha256(data).hexdigest()},
        headers={"content-type": "application/octet-stream"}).raise_for_status()


def traces_by_name(page: Any) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in chart(page, "#chart-rungs")["traces"]}


def polls_pass(page: Any, count: int) -> None:
    """Wait until the page has polled `count` more times."""
    polls = requests_to(page, "trials?since=")
    page.wait_for_function("n => performance.getEntriesByType('resource')"
                           ".filter(e => e.name.includes('trials?since=')).length >= n",
                           arg=polls + count)


def test_the_rung_view_marks_each_trial_at_each_rung_as_the_search_goes(server, api, worker,
                                                                        open_page, artifacts):
    body = spec("asha", max_trials=4, epochs=5)
    body["early_stopping"] = {"kind": "asha", "eta": 2, "min_epochs": 1, "resume": True}
    search = create_search(api, body)
    lead, paused, low, lower = (worker.claim(search["id"]) for _ in range(4))
    assert report(worker, lead, 0.5) == "continue"
    assert report(worker, paused, 0.4) == "pause"
    pause(worker, paused)
    for trial, value in ((low, 0.2), (lower, 0.1)):
        assert report(worker, trial, value) == "pause"
        worker.complete(trial)  # gives up instead of pausing: pruned where it stood
    assert report(worker, lead, 0.6) == "continue"  # rung 1, at 2 epochs
    page = open_page()
    open_search(page, server.url, search["id"])
    page.wait_for_function("() => document.querySelector('#chart-rungs').data")

    drawn = chart(page, "#chart-rungs")
    assert [shape["x0"] for shape in drawn["shapes"]] == [1, 2, 4]
    assert drawn["xaxis"]["type"] == "log"
    traces = traces_by_name(page)
    assert [name for name in traces if name != "path"] == ["continued", "paused", "resumed"]
    assert traces["continued"]["x"] == [1, 2] and traces["continued"]["y"] == [0.5, 0.6]
    assert traces["continued"]["customdata"] == [lead.id, lead.id]
    assert sorted(traces["paused"]["y"]) == [0.1, 0.2, 0.4]
    assert traces["resumed"]["x"] == []
    chip = page.locator(f"#trial-table tr[data-id='{paused.id}'] .state")
    assert chip.inner_text() == "paused"
    assert chip.evaluate("n => getComputedStyle(n).backgroundColor") == "rgb(224, 159, 62)"
    assert page.inner_text("[data-count=paused]") == "1"
    page.locator("#rungs").screenshot(path=artifacts / "rungs-asha.png")

    rungs_route = f"/api/v1/searches/{search['id']}/rungs"
    rung_fetches = requests_to(page, rungs_route)
    polls_pass(page, 2)
    assert requests_to(page, rungs_route) == rung_fetches, "refetched rungs that did not move"
    resumed = worker.claim(search["id"])  # the paused trial, promoted: 2 of 4 values now
    assert resumed is not None and resumed.id == paused.id
    page.wait_for_function("() => document.querySelector('#chart-rungs').data"
                           ".find(t => t.name === 'resumed').x.length === 1")
    resumed.epochs = 1
    assert report(worker, resumed, 0.7) == "continue"
    page.wait_for_function("() => document.querySelector('#chart-rungs').data"
                           ".find(t => t.name === 'continued').x.length === 3")
    assert sorted(traces_by_name(page)["paused"]["y"]) == [0.1, 0.2]


def test_a_big_rung_draws_its_best_values_and_a_spread_of_the_rest(server, open_page):
    page = open_page()
    page.goto(server.url)
    drawn = page.evaluate("""async () => {
        const { entriesToDraw } = await import("./js/charts/rungs.js");
        const entries = [];
        for (let i = 0; i < 3000; i += 1) entries.push({ bracket: 0, rung: 0, value: i });
        for (let i = 0; i < 200; i += 1) entries.push({ bracket: 0, rung: 1, value: i });
        return entriesToDraw(entries, (value) => -value).map((e) => [e.rung, e.value]);
    }""")
    first = sorted((value for rung, value in drawn if rung == 0), reverse=True)
    assert sorted(value for rung, value in drawn if rung == 1) == list(range(200))
    assert len(first) == 750 and len(set(first)) == 750  # half of 1,500 for each of 2 rungs
    assert first[:375] == list(range(2999, 2624, -1)), "the best half of its share, exactly"
    assert first[-1] < 10, "the rest spread down to the worst"


def test_parameter_importance_is_charted_once_enough_trials_completed(server, api, worker,
                                                                      open_page, artifacts):
    search = create_search(api, spec("importance", max_trials=14, epochs=2))
    worker.run_trials(search["id"], 12, epochs=2)
    page = open_page()
    open_search(page, server.url, search["id"])
    bars = page.locator("#chart-importance li")
    bars.first.wait_for()
    shown = bars.evaluate_all("items => items.map(i => [i.dataset.name, +i.dataset.importance])")
    names = [name for name, _ in shown]
    shares = [share for _, share in shown]
    assert sorted(names) == ["batch_size", "beta1", "learning_rate", "num_layers"]
    assert names[0] == "learning_rate", "the objective is mostly the learning rate's"
    assert shares == sorted(shares, reverse=True) and sum(shares) <= 1
    page.locator(".importance-card").screenshot(path=artifacts / "importance.png")
    polls_pass(page, 2)
    assert requests_to(page, f"/api/v1/searches/{search['id']}/importance") == 1, (
        "refetched with no newly completed trial")


def test_the_re_test_leaderboard_shows_each_settings_mean_and_spread(server, api, worker,
                                                                    open_page):
    search = create_search(api, spec("retests", max_trials=3, epochs=2))
    done = worker.run_trials(search["id"], 3, epochs=2)
    page = open_page()
    open_search(page, server.url, search["id"])
    assert page.locator("#leaderboard").is_hidden(), "shown before any re-test"

    answer = api.post(f"/searches/{search['id']}/retest", json={"top": 1, "seeds": 2})
    assert answer.status_code == 201, answer.text
    worker.run_trials(search["id"], 2, epochs=2)
    best = max(done, key=lambda t: t["value"])
    row = page.locator(f"#leaderboard tr[data-id='{best['id']}']")
    page.wait_for_function("id => document.querySelector(`#leaderboard tr[data-id='${id}'] "
                           "td:nth-child(4)`)?.textContent === '3'", arg=best["id"])
    entry = api.get(f"/searches/{search['id']}/leaderboard").json()["items"][0]
    assert entry["trial_id"] == best["id"]
    rank, number, spread, runs = row.locator("td").all_inner_texts()[:4]
    assert (rank, number, runs) == ("1", f"#{best['number']}", "3")
    mean, std = (float(text) for text in spread.split(" ± "))
    assert mean == pytest.approx(entry["mean"], rel=1e-3)
    assert std == pytest.approx(entry["std"], rel=1e-2)
    row.click()
    page.wait_for_selector(f".trial-panel h2:has-text('Trial #{best['number']}')")

