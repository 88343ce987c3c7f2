"""The search page in a real browser, against a live server driven by a simulated worker."""

from __future__ import annotations

import csv
import io
import math
import re

import pytest

from tests.dashboard.helpers import (
    chart,
    create_search,
    open_search,
    requests_to,
    scatter,
    spec,
    table_statuses,
)
from tests.dashboard.simulated_worker import SimulatedWorker

pytestmark = pytest.mark.browser


@pytest.fixture
def worker(server):
    simulated = SimulatedWorker(server.url, "sim-node/1")
    yield simulated
    simulated.close()


def test_charts_and_table_render_on_each_parameter_scale(server, api, worker, open_page,
                                                          artifacts):
    search = create_search(api, spec("render"))
    done = worker.run_trials(search["id"], 5, epochs=5)
    running = worker.claim(search["id"])
    worker.report(running)
    page = open_page()
    open_search(page, server.url, search["id"])

    assert page.inner_text(".search-header .status") == "running"
    assert page.inner_text("[data-count=completed]") == "5"
    assert page.inner_text("[data-count=running]") == "1"
    best = max(done, key=lambda t: t["value"])
    assert f"trial #{best['number']}" in page.inner_text(".search-header .best")

    best_chart = chart(page, "#chart-best")
    assert sorted(best_chart["traces"][0]["x"]) == [t["number"] for t in done]
    assert max(best_chart["traces"][1]["y"]) == pytest.approx(best["value"])

    learning_rate = scatter(page, "learning_rate")
    assert learning_rate["xaxis"]["type"] == "log"
    assert sorted(learning_rate["traces"][0]["x"]) == sorted(
        t["params"]["learning_rate"] for t in done)
    beta1 = scatter(page, "beta1")
    assert beta1["xaxis"] == {"type": "log", "title": "1 − beta1 (log)"}
    assert sorted(beta1["traces"][0]["x"]) == pytest.approx(
        sorted(1 - t["params"]["beta1"] for t in done))
    batch_size = scatter(page, "batch_size")
    assert batch_size["xaxis"]["type"] == "category"
    assert scatter(page, "num_layers")["xaxis"]["type"] == "linear"

    curves = chart(page, "#chart-curves-accuracy")
    names = [trace["name"] for trace in curves["traces"]]
    assert f"#{running.assignment['number']} running" in names
    assert sum(name.endswith("completed") for name in names) == 5

    statuses = table_statuses(page)
    assert statuses[running.id] == "running"
    assert sorted(statuses.values()).count("completed") == 5

    page.locator("#chart-parallel").scroll_into_view_if_needed()
    page.wait_for_selector("#chart-parallel[data-drawn=true]")
    dimensions = page.eval_on_selector(
        "#chart-parallel", "div => div.data[0].dimensions.map(d => d.label)")
    assert dimensions == ["learning_rate (log)", "1 − beta1 (log)", "batch_size", "num_layers",
                          "dev_accuracy"]
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=artifacts / "search-1280x800.png", full_page=True)


def test_a_newly_completed_trial_appears_without_a_reload(server, api, worker, open_page):
    search = create_search(api, spec("live"))
    done = worker.run_trials(search["id"], 2, epochs=3)
    running = worker.claim(search["id"])
    worker.report(running)
    page = open_page()
    open_search(page, server.url, search["id"])
    page.evaluate("window.sameDocument = true")
    assert table_statuses(page)[running.id] == "running"
    details = requests_to(page, "/api/v1/trials/")
    polls = requests_to(page, "trials?since=")
    page.wait_for_function("n => performance.getEntriesByType('resource')"
                           ".filter(e => e.name.includes('trials?since=')).length >= n + 1",
                           arg=polls + 1)
    assert requests_to(page, "/api/v1/trials/") == details, "refetched unchanged trials"

    worker.report(running)
    page.wait_for_function(
        "id => document.querySelector(`#trial-table tr[data-id='${id}'] td[data-column=epochs]`)"
        ".textContent === '2'", arg=running.id)
    worker.complete(running)
    page.wait_for_selector(f"#trial-table tr[data-id='{running.id}'][data-status=completed]")
    page.wait_for_function("() => document.querySelector('#chart-best').data[0].x.length === 3")
    page.wait_for_function("() => document.querySelector('#scatters').data"
                           ".filter(t => t.name === 'completed').every(t => t.x.length === 3)")
    assert [t["customdata"] for t in scatter(page, "num_layers")["traces"]][0] == [
        t["id"] for t in sorted(done, key=lambda t: t["number"])] + [running.id]
    assert page.inner_text("[data-count=completed]") == "3"
    assert page.evaluate("window.sameDocument") is True


def test_the_stop_button_stops_a_running_trial(server, api, worker, open_page):
    search = create_search(api, spec("stop"))
    trial = worker.claim(search["id"])
    worker.report(trial)
    page = open_page()
    open_search(page, server.url, search["id"])

    page.click(f"#trial-table tr[data-id='{trial.id}']")
    page.wait_for_selector(".trial-panel h2:has-text('Trial #0')")
    panel = page.inner_text(".trial-panel")
    assert "learning_rate" in panel
    assert "null" not in panel
    page.click(".trial-panel button.stop")
    page.wait_for_selector(".trial-panel button.stop:has-text('Stopping')")

    assert api.get(f"/trials/{trial.id}").json()["stop_reason"] == "stopped by user"
    assert worker.report(trial)["action"] == "stop"
    finished = worker.complete(trial)
    assert finished["status"] == "completed"
    assert finished["stop_reason"] == "stopped by user"
    page.wait_for_selector(".trial-panel .state.completed")
    assert page.locator(".trial-panel button.stop").count() == 0
    page.wait_for_selector(
        f"#trial-table tr[data-id='{trial.id}'] .reason:has-text('stopped by user')")


def test_the_cancel_button_cancels_the_search(server, api, worker, open_page):
    search = create_search(api, spec("cancel"))
    worker.run_trials(search["id"], 1, epochs=2)
    trial = worker.claim(search["id"])
    worker.report(trial)
    page = open_page()
    open_search(page, server.url, search["id"])

    page.click("button.cancel")
    page.click("button.confirm-yes")
    page.wait_for_selector(".search-header .status.cancelled")
    assert api.get(f"/searches/{search['id']}").json()["status"] == "cancelled"
    assert worker.heartbeat(trial)["action"] == "stop"
    assert page.locator("button.cancel").is_hidden()

    worker.complete(trial)
    page.wait_for_selector(f"#trial-table tr[data-id='{trial.id}'][data-status=cancelled]")
    page.wait_for_selector(".live:has-text('updates stopped')")
    polls = requests_to(page, "trials?since=")
    page.wait_for_timeout(2500)
    assert requests_to(page, "trials?since=") == polls, "still polling an ended search"


def test_table_sorts_pages_and_downloads_csv(server, api, worker, open_page):
    search = create_search(api, spec("table", max_trials=30))
    done = worker.run_trials(search["id"], 30, epochs=2)
    page = open_page()
    open_search(page, server.url, search["id"])
    assert page.inner_text(".page-info") == "page 1 of 2 · 30 trials"

    page.click("#trial-table th[data-column=value]")
    page.click("#trial-table th[data-column=value]")
    first = page.get_attribute("#trial-table tbody tr:first-child", "data-id")
    best = max(done, key=lambda t: t["value"])
    assert int(first) == best["id"]
    page.click("#trial-table button:has-text('next')")
    assert page.inner_text(".page-info") == "page 2 of 2 · 30 trials"
    assert len(table_statuses(page)) == 5

    with page.expect_download() as download:
        page.click("button.csv")
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert len(rows) == 30
    assert {int(r["id"]) for r in rows} == {t["id"] for t in done}
    row = next(r for r in rows if int(r["id"]) == best["id"])
    assert float(row["param_learning_rate"]) == pytest.approx(best["params"]["learning_rate"])
    assert float(row["metric_dev_accuracy"]) == pytest.approx(best["metrics"]["dev_accuracy"])


def test_coarse_to_fine_boxes_are_drawn_on_the_parameter_scales(server, api, worker, open_page):
    sampler = {"kind": "coarse_to_fine", "seed": 3, "round_size": 4}
    search = create_search(api, spec("zoom", max_trials=8, sampler=sampler))
    worker.run_trials(search["id"], 4, epochs=2)
    assert worker.claim(search["id"]) is not None
    rounds = api.get(f"/searches/{search['id']}").json()["rounds"]
    assert [r["round"] for r in rounds] == [0, 1]
    box = rounds[1]["box"]
    page = open_page()
    open_search(page, server.url, search["id"])

    (shape,) = scatter(page, "learning_rate")["shapes"]
    low, high = 1e-4, 1.0
    assert shape["x0"] == pytest.approx(low * (high / low) ** box["learning_rate"][0])
    assert shape["x1"] == pytest.approx(low * (high / low) ** box["learning_rate"][1])
    (shape,) = scatter(page, "beta1")["shapes"]
    gap = [0.1 * (0.001 / 0.1) ** u for u in box["beta1"]]
    assert [shape["x0"], shape["x1"]] == pytest.approx([gap[1], gap[0]])
    (shape,) = scatter(page, "num_layers")["shapes"]
    assert [shape["x0"], shape["x1"]] == pytest.approx(
        [1.5 + 3 * box["num_layers"][0], 1.5 + 3 * box["num_layers"][1]])
    (shape,) = scatter(page, "batch_size")["shapes"]
    index = [min(2, math.floor(u * 3)) for u in box["batch_size"]]
    assert shape["x0"] == index[0] - 0.5


def test_search_page_fits_a_phone(server, api, worker, open_page, artifacts):
    search = create_search(api, spec("phone"))
    worker.run_trials(search["id"], 4, epochs=3)
    page = open_page(width=390, height=844)
    open_search(page, server.url, search["id"])
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    figure = page.eval_on_selector("#scatters", "div => div.getBoundingClientRect().width")
    assert figure <= 390
    # One column: each parameter's subplot spans the figure's width, one below the other.
    assert all(scatter(page, name)["width"] >= 250
               for name in ["learning_rate", "beta1", "batch_size", "num_layers"])
    page.locator("#chart-parallel").scroll_into_view_if_needed()
    page.wait_for_selector("#chart-parallel[data-drawn=true]")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=artifacts / "search-390x844.png", full_page=True)


def test_a_minimized_objective_is_charted_and_ranked_lowest_first(server, api, worker, open_page):
    body = spec("minimize")
    body["objective"] = {"metric": "dev_loss", "goal": "minimize"}
    search = create_search(api, body)
    done = worker.run_trials(search["id"], 4, epochs=3)
    page = open_page()
    open_search(page, server.url, search["id"])

    best = min(done, key=lambda t: t["value"])
    assert f"trial #{best['number']}" in page.inner_text(".search-header .best")
    steps = chart(page, "#chart-best")["traces"][1]["y"]
    assert steps == sorted(steps, reverse=True)
    assert steps[-1] == pytest.approx(best["value"])
    assert scatter(page, "learning_rate")["traces"][0]["y"] == pytest.approx(
        [t["value"] for t in sorted(done, key=lambda t: t["number"])])


def test_the_parameter_scatters_share_one_figure_that_follows_the_width(server, api, worker,
                                                                         open_page):
    search = create_search(api, spec("grid"))
    worker.run_trials(search["id"], 3, epochs=2)
    page = open_page()
    open_search(page, server.url, search["id"])
    names = ["learning_rate", "beta1", "batch_size", "num_layers"]
    domains = "div => div.data.filter(t => t.name === 'completed').map(t => " \
              "div._fullLayout[t.yaxis.replace('y', 'yaxis')].domain.join())"
    assert page.eval_on_selector("#scatters", "div => div.data.map(t => t.meta)") == [
        name for name in names for _ in range(2)]
    assert len(set(page.eval_on_selector("#scatters", domains))) == 1, "one row at 1280 px"

    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_function(f"() => new Set(({domains})(document.querySelector('#scatters')))"
                           ".size === 4")
    assert all(scatter(page, name)["width"] >= 250 for name in names)


def test_curves_and_the_best_trials_are_drawn_while_every_trial_is_still_loading(
        server, api, worker, open_page):
    search = create_search(api, spec("early"))
    done = worker.run_trials(search["id"], 4, epochs=3)
    running = worker.claim(search["id"])
    worker.report(running)
    page = open_page()
    held = []
    page.route(re.compile(r"/trials\?since=0&"), lambda route: held.append(route))
    page.goto(f"{server.url}/#/searches/{search['id']}")

    page.wait_for_function(  # the page's view may not be rendered yet right after goto
        "() => (document.querySelector('#chart-curves-accuracy')?.data || []).length === 5")
    names = [t["name"] for t in chart(page, "#chart-curves-accuracy")["traces"]]
    assert f"#{running.assignment['number']} running" in names
    page.wait_for_function("() => document.querySelector('#scatters').data")
    page.wait_for_function("() => document.querySelector('#chart-best').data")
    assert len(held) == 1 and page.get_attribute("body", "data-ready") is None
    assert page.inner_text("[data-count=completed]") == "4"
    points, steps = chart(page, "#chart-best")["traces"]
    assert points["x"] == sorted(t["number"] for t in done) and steps["x"] == []
    assert sorted(scatter(page, "learning_rate")["traces"][0]["x"]) == sorted(
        t["params"]["learning_rate"] for t in done)

    held[0].continue_()
    page.wait_for_selector("body[data-ready=search]")
    points, steps = chart(page, "#chart-best")["traces"]
    assert max(steps["y"]) == pytest.approx(max(t["value"] for t in done))
    assert table_statuses(page)[running.id] == "running"
    assert requests_to(page, "/api/v1/trials/") == 5, "fetched a shown trial's curve twice"
