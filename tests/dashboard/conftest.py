"""Fixtures of the browser tests: one live server for the session, Debian's Chromium, and
pages that fail the test on any console error or uncaught page error."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.databases import sqlite_url
from tests.support.processes import Server, live_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "dashboard"


def launch_chromium(playwright: Any) -> Browser:
    """Debian's Chromium, headless (Playwright never downloads a browser here)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A `caviar serve` process on a throwaway SQLite file, shared by the dashboard tests
    (each test makes its own searches)."""
    folder = tmp_path_factory.mktemp("dashboard-server")
    with live_server(sqlite_url(folder), folder) as running:
        yield running


@pytest.fixture(scope="session")
def api(server: Server) -> Iterator[httpx.Client]:
    """An HTTP client on the server's API."""
    with httpx.Client(base_url=f"{server.url}/api/v1", timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


class BrowserProblems:
    """Console errors and uncaught exceptions a page produced."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def watch(self, page: Page, allow: tuple[str, ...]) -> None:
        """Record the page's errors, except console errors containing an allowed text."""

        def on_console(message: Any) -> None:
            if message.type == "error" and not any(text in message.text for text in allow):
                self.messages.append(f"console.{message.type}: {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.messages.append(f"page error: {error}"))


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """open_page(width=1280, height=800) → a fresh page; the test fails on any browser error.

    allow: texts of console errors the test expects (for example a 404 it provokes).
    """
    problems = BrowserProblems()
    contexts = []

    def make(width: int = 1280, height: int = 800, allow: tuple[str, ...] = ()) -> Page:
        context = browser.new_context(viewport={"width": width, "height": height},
                                      accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        problems.watch(page, allow)
        return page

    yield make
    for context in contexts:
        context.close()
    assert problems.messages == [], "the browser reported errors:\n" + "\n".join(problems.messages)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go (git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
