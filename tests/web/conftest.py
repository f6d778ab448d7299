"""A real ``podium serve`` in a subprocess (scripted and test models, a private database), and HTTP helpers."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import KEY_VARIABLES, cli_env  # noqa: F401 - a fixture for test_serve.py

pytest.importorskip("starlette", reason="the web extra is not installed: pip install 'podium[web]'")
import httpx2 as httpx


@dataclass
class Served:
    """A running ``podium serve``: its base URL, token, workspace and process."""

    base: str
    token: str
    workspace: Path
    tmp: Path
    process: subprocess.Popen[str]

    @property
    def url(self) -> str:
        """The URL the server printed (with the token)."""
        return f"{self.base}/?token={self.token}"

    @property
    def host(self) -> str:
        return self.base.removeprefix("http://")

    def client(self, **headers: str) -> httpx.Client:
        """An HTTP client that sends the token (as a bearer header) unless ``authorization`` is given empty."""
        merged = {"authorization": f"Bearer {self.token}", **headers}
        merged = {k: v for k, v in merged.items() if v}
        return httpx.Client(base_url=self.base, headers=merged, timeout=10)

    def script(self, name: str, items: list[Any]) -> str:
        """A ``test:scripted:FILE`` model for one test."""
        path = self.tmp / f"{name}.json"
        path.write_text(json.dumps(items))
        return f"test:scripted:{path}"

    def conversation(self, model: str | None = None) -> str:
        """A new conversation's id (with ``model``, else the server's default)."""
        with self.client() as c:
            r = c.post("/api/conversations", json={"model": model} if model else {})
            assert r.status_code == 201, r.text
            return str(r.json()["id"])

    def wait_idle(self, cid: str, timeout: float = 20) -> dict[str, Any]:
        """The conversation once no turn runs in it."""
        deadline = time.monotonic() + timeout
        with self.client() as c:
            while True:
                doc: dict[str, Any] = c.get(f"/api/conversations/{cid}").json()
                if not doc["running"]:
                    return doc
                assert time.monotonic() < deadline, f"the turn did not end: {doc}"
                time.sleep(0.05)


def start_server(tmp: Path, *args: str, model: str = "test:echo") -> Served:
    workspace = tmp / "workspace"
    workspace.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in KEY_VARIABLES}
    env.update(
        PODIUM_CONFIG=str(tmp / "config.toml"),
        PODIUM_DB=str(tmp / "podium.db"),
        XDG_DATA_HOME=str(tmp / "data"),
        XDG_STATE_HOME=str(tmp / "state"),
        PYTHONUNBUFFERED="1",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "podium.cli", "serve", "--port", "0", "-m", model, "-w", str(workspace), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"(http://[^/\s]+)/\?token=(\S+)", line)
    if match is None:
        process.kill()
        raise AssertionError(f"podium serve printed no URL: {line!r} {process.stderr.read() if process.stderr else ''}")
    return Served(match.group(1), match.group(2), workspace, tmp, process)


def stop_server(served: Served) -> None:
    served.process.terminate()
    try:
        served.process.wait(10)
    except subprocess.TimeoutExpired:
        served.process.kill()
        served.process.wait()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One ``podium serve --tool write_file --tool read_file`` per test module (each test its own conversation)."""
    server = start_server(tmp_path_factory.mktemp("serve"), "--tool", "write_file", "--tool", "read_file")
    yield server
    stop_server(server)


# ---------------------------------------------------------------- the browser (Playwright on the system's Chromium)

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
