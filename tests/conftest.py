"""Shared test configuration. The network guard plugin is enabled in pyproject (``-p podium.testing.pytest_plugin``).

Tests that need a system tool (bubblewrap, ripgrep) carry ``@pytest.mark.requires("bwrap")`` (or call
:func:`require`). Without the tool they are skipped with the reason, and one line at the end of the run says
what was not tested and how to install it; with ``PODIUM_REQUIRE_SYSTEM_TOOLS=1`` (set by ``.ci/run``) a
missing tool fails those tests instead, so CI always proves the sandbox.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter

import pytest
from hypothesis import settings

# Hypothesis: a quick "dev" profile by default, the full count of examples in CI (HYPOTHESIS_PROFILE=ci).
settings.register_profile("dev", deadline=None, max_examples=50)
settings.register_profile("ci", deadline=None, max_examples=200, database=None, derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def examples(n: int) -> int:
    """``n`` examples in CI, a quarter (at least 25) in the quick dev profile."""
    return n if settings().max_examples >= 200 else max(25, n // 4)


REQUIRE_ENV = "PODIUM_REQUIRE_SYSTEM_TOOLS"
SYSTEM_TOOLS: dict[str, tuple[str, str]] = {
    "bwrap": ("bubblewrap", "apt-get install bubblewrap"),
    "rg": ("ripgrep", "apt-get install ripgrep"),
    "node": ("Node.js and npm", "apt-get install nodejs npm"),  # the reference MCP servers (tests/mcp)
    "chromium": ("Chromium", "apt-get install chromium"),  # the web UI's browser tests (tests/web)
}
"""Program -> (package, how to install it on Debian/Ubuntu)."""

_SKIP_PREFIX = "needs the system tool "


def missing(tool: str) -> str | None:
    """Why ``tool`` cannot be used here, or ``None``."""
    if tool == "bwrap":
        from podium.tools.sandbox import bubblewrap_available

        return bubblewrap_available()
    if tool == "node":
        absent = [p for p in ("node", "npm") if shutil.which(p) is None]
        return f"{' and '.join(absent)} not installed" if absent else None
    return None if shutil.which(tool) else f"{tool} is not installed"


def require(tool: str) -> None:
    """Skip the calling test when ``tool`` is missing (fail instead when ``PODIUM_REQUIRE_SYSTEM_TOOLS`` is set)."""
    problem = missing(tool)
    if problem is None:
        return
    package, hint = SYSTEM_TOOLS[tool]
    if os.environ.get(REQUIRE_ENV):
        pytest.fail(f"{REQUIRE_ENV} is set but {package} is missing: {problem} ({hint})")
    pytest.skip(f"{_SKIP_PREFIX}{package}: {problem}" + ("" if hint in problem else f" ({hint})"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "requires(tool): the test needs a system tool (bwrap, rg, node, chromium): tests/conftest"
    )


def _needed(item: pytest.Item) -> set[str]:
    """The system tools ``item`` needs: its ``requires`` markers, and parameters that name a back-end."""
    tools = {tool for marker in item.iter_markers("requires") for tool in marker.args}
    params = getattr(getattr(item, "callspec", None), "params", {})
    if params.get("backend") == "bubblewrap":
        tools.add("bwrap")
    if params.get("ripgrep") is True:
        tools.add("rg")
    return tools


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get(REQUIRE_ENV):
        return  # fail in setup instead
    for item in items:
        for tool in sorted(_needed(item)):
            problem = missing(tool)
            if problem is not None:
                package, hint = SYSTEM_TOOLS[tool]
                reason = f"{_SKIP_PREFIX}{package}: {problem}" + ("" if hint in problem else f" ({hint})")
                item.add_marker(pytest.mark.skip(reason=reason))
                break


def pytest_runtest_setup(item: pytest.Item) -> None:
    for tool in sorted(_needed(item)):
        require(tool)


def pytest_unconfigure(config: pytest.Config) -> None:
    """After the last line of the run: what was not tested for want of a system tool, and how to fix it."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    counts: Counter[str] = Counter()
    for report in reporter.stats.get("skipped", []):
        reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
        if _SKIP_PREFIX in reason:
            counts[reason.split(_SKIP_PREFIX, 1)[1].split(":", 1)[0]] += 1
    if counts:
        packages = ", ".join(f"{name} ({n} tests)" for name, n in sorted(counts.items()))
        reporter.write_line(
            f"NOT TESTED here, system tools missing: {packages}. Install them (Debian/Ubuntu: "
            f"apt-get install {' '.join(sorted(counts))}) to run these tests; CI sets {REQUIRE_ENV}=1 so they "
            "must run.",
            yellow=True,
            bold=True,
        )
