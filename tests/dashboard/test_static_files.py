"""The dashboard's static files: served by the server, self-contained, Plotly pinned."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import httpx

from domain.lifecycle.states import TERMINAL, SearchStatus, TrialStatus
from service.search.rungs import Outcome
from tests.support.processes import Server

STATIC = Path(__file__).resolve().parents[2] / "service" / "dashboard" / "static"


def test_every_module_is_preloaded_and_every_preload_exists():
    html = (STATIC / "index.html").read_text()
    preloaded = set(re.findall(r'<link rel="modulepreload" href="([^"]+)">', html))
    modules = {str(path.relative_to(STATIC)) for path in (STATIC / "js").rglob("*.js")}
    assert preloaded == modules - {"js/main.js"}


def test_nothing_is_loaded_from_another_host():
    for path in [STATIC / "index.html", *STATIC.rglob("*.js"), *STATIC.rglob("*.css")]:
        if "vendor" in path.parts:
            continue
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", path.read_text()), path
        assert "fetch(\"http" not in path.read_text(), path


def test_vendored_plotly_is_the_pinned_gl2d_bundle_with_its_license():
    readme = (STATIC / "vendor" / "README.md").read_text()
    pinned = re.search(r"`plotly-gl2d.min.js`.*?\| (\d+\.\d+\.\d+) \|", readme).group(1)
    digest = re.search(r"SHA-256 of `plotly-gl2d.min.js`: `([0-9a-f]{64})`", readme).group(1)
    bundle = (STATIC / "vendor" / "plotly-gl2d.min.js").read_bytes()
    assert f"plotly.js (gl2d - minified) v{pinned}".encode() in bundle[:200]
    assert hashlib.sha256(bundle).hexdigest() == digest
    assert "MIT" in (STATIC / "vendor" / "LICENSE-plotly.txt").read_text()
    assert sorted(path.name for path in (STATIC / "vendor").glob("*.js")) == [
        "plotly-gl2d.min.js"]


def test_the_server_serves_the_dashboard_and_its_assets(server: Server):
    index = httpx.get(f"{server.url}/")
    assert index.status_code == 200
    assert '<main id="app"' in index.text
    for asset in ["js/main.js", "css/dashboard.css", "vendor/plotly-gl2d.min.js", "favicon.svg"]:
        answer = httpx.get(f"{server.url}/{asset}")
        assert answer.status_code == 200, asset
    assert httpx.get(f"{server.url}/js/main.js").headers["content-type"].startswith(
        "text/javascript")


def test_the_dashboard_names_the_states_of_domain_lifecycle():
    """js/states.js is the dashboard's one copy of the states: the server's, in its order."""
    text = (STATIC / "js" / "states.js").read_text()

    def constants(name: str) -> dict[str, str]:
        block = re.search(rf"export const {name} = Object\.freeze\(\{{(.*?)\}}\);", text, re.S)
        assert block is not None, name
        return dict(re.findall(r'(\w+): "([a-z_]+)"', block.group(1)))

    assert constants("TRIAL") == {status.name: status.value for status in TrialStatus}
    assert constants("SEARCH") == {status.name: status.value for status in SearchStatus}
    terminal = re.search(r"export const TERMINAL = Object\.freeze\(\[(.*?)\]\);", text).group(1)
    assert {f"TRIAL.{status.name}" for status in TERMINAL} == set(re.findall(r"TRIAL\.\w+",
                                                                             terminal))


def test_the_dashboard_names_the_outcomes_at_a_rung_of_the_server():
    text = (STATIC / "js" / "states.js").read_text()
    block = re.search(r"export const OUTCOME = Object\.freeze\(\{(.*?)\}\);", text, re.S)
    assert block is not None
    named = dict(re.findall(r'(\w+): (?:"([a-z_]+)"|TRIAL\.\w+)', block.group(1)))
    assert set(named) == {outcome.name for outcome in Outcome}
    assert {name: value for name, value in named.items() if value} == {
        outcome.name: outcome.value for outcome in Outcome if outcome.name != "PAUSED"}
    assert "PAUSED: TRIAL.PAUSED" in block.group(1)
