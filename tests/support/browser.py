"""Headless Chromium for the browser tests: Debian's `chromium` driven by Playwright for
Python (no browser download), one browser per module, a page per test; screenshots go to
test-artifacts/screenshots/ (the CI keeps test-artifacts/)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.edge import EdgeStack
from tests.support.servers import ARTIFACTS

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SCREENSHOTS = ARTIFACTS / "screenshots"
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists() and not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; "
                    ".ci/run and `make test` install it where they can)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install -e '.[dev]')")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")),
            args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def page_for(browser: Any, edge: EdgeStack, credentials: bool = True) -> Any:
    """A page in a context of its own (its own storage), with the dashboard's basic-auth
    credentials or none."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 800},
        http_credentials={"username": edge.auth[0], "password": edge.auth[1]}
        if credentials else None)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return page


def screenshot(page: Any, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
