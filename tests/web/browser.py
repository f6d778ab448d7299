"""Playwright on the system's Chromium (``/usr/bin/chromium``; never a downloaded browser): shared fixtures."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.web.conftest import Served

CHROMIUM_NAMES = ("chromium", "chromium-browser")


def chromium_path() -> str | None:
    """The system's Chromium, if installed."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module (each test opens its own context)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the dev extra)")
    path = chromium_path()
    assert path is not None  # the requires("chromium") marker skipped (or failed) the test before
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def open_page(browser: Any, served: Served, path: str = "/", **context: Any) -> Any:
    """A new context and page, logged in through the printed URL, at ``path``; console errors are collected."""
    ctx = browser.new_context(**{"viewport": {"width": 1280, "height": 800}, **context})
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(served.url)  # sets the cookie and redirects to /
    if path != "/":
        page.goto(served.base + path)
    page.locator("#model option").first.wait_for(state="attached")
    return page
