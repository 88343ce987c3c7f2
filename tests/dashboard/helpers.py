"""What the browser tests share: search specs, and reading the page's charts."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import Page


def spec(name: str, max_trials: int = 12, sampler: dict[str, Any] | None = None,
         epochs: int = 5) -> dict[str, Any]:
    """A search over one parameter of each kind the dashboard draws differently."""
    return {
        "name": name,
        "dataset": "digits",
        "objective": {"metric": "dev_accuracy", "goal": "maximize"},
        "budget": {"max_trials": max_trials, "max_parallel": 4},
        "sampler": sampler or {"kind": "random", "seed": 7},
        "early_stopping": {"kind": "none"},
        "parameters": {
            "learning_rate": {"type": "float", "low": 1e-4, "high": 1.0, "scale": "log"},
            "beta1": {"type": "float", "low": 0.9, "high": 0.999, "scale": "reverse_log"},
            "batch_size": {"type": "choice", "values": [64, 128, 256]},
            "num_layers": {"type": "int", "low": 2, "high": 4},
        },
        "fixed": {"epochs": epochs},
    }


def create_search(api: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    answer = api.post("/searches", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def open_search(page: Page, base_url: str, search_id: int) -> None:
    """Navigate to a search's page and wait for its first full render."""
    page.goto(f"{base_url}/#/searches/{search_id}")
    page.wait_for_selector("body[data-ready=search]")


def chart(page: Page, selector: str) -> dict[str, Any]:
    """A drawn Plotly chart's traces (type, x, y) and axis types, read from the page."""
    return page.eval_on_selector(selector, """div => ({
        traces: div.data.map(t => ({type: t.type, name: t.name, x: Array.from(t.x || []),
                                    y: Array.from(t.y || []), customdata: t.customdata})),
        xaxis: div._fullLayout.xaxis && {type: div._fullLayout.xaxis.type,
                                          title: div._fullLayout.xaxis.title.text},
        shapes: (div.layout.shapes || []).map(s => ({x0: s.x0, x1: s.x1})),
    })""")


def scatter(page: Page, param: str) -> dict[str, Any]:
    """The subplot of the objective against one parameter in the scatter figure, read like
    `chart`, plus its plot area's width in px."""
    return page.eval_on_selector("#scatters", """(div, param) => {
        const traces = div.data.filter(t => t.meta === param);
        const key = traces[0].xaxis.replace("x", "xaxis");
        const axis = div._fullLayout[key];
        return {
            traces: traces.map(t => ({type: t.type, name: t.name, x: Array.from(t.x),
                                      y: Array.from(t.y), customdata: t.customdata})),
            xaxis: {type: axis.type, title: axis.title.text},
            shapes: (div.layout.shapes || []).filter(s => s.xref === traces[0].xaxis)
                .map(s => ({x0: s.x0, x1: s.x1})),
            width: axis._length,
        };
    }""", param)


def requests_to(page: Page, fragment: str) -> int:
    """How many requests the page has made to URLs containing fragment."""
    return page.evaluate(
        "fragment => performance.getEntriesByType('resource')"
        ".filter(e => e.name.includes(fragment)).length", fragment)


def table_statuses(page: Page) -> dict[int, str]:
    """Trial id → state shown on the trial table's current page."""
    shown = page.eval_on_selector_all(
        "#trial-table tbody tr[data-id]",
        "rows => Object.fromEntries(rows.map(r => [r.dataset.id, r.dataset.status]))",
    )
    return {int(trial_id): status for trial_id, status in shown.items()}
