"""Real MCP servers for the tests: ``server_app.py`` (the SDK's own server API) over stdio and streamable HTTP,
and the official reference servers from npm (installed once into ``.cache/mcp-servers`` of the checkout).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from podium.mcp import MCPServer
from tests.cli.conftest import cli_env  # noqa: F401 - the CLI tests' fixture, for test_cli.py

HERE = Path(__file__).parent
APP = HERE / "server_app.py"
REPO = HERE.parent.parent
NPM_DIR = Path(os.environ.get("PODIUM_MCP_NPM_DIR", REPO / ".cache" / "mcp-servers"))
NPM_PACKAGES = ("@modelcontextprotocol/server-filesystem", "@modelcontextprotocol/server-everything")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the test MCP server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the test MCP server did not start listening")


@pytest.fixture(scope="module")
def marks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Directory where the test server writes ``started-<tag>`` / ``cancelled-<tag>``."""
    return tmp_path_factory.mktemp("marks")


def stdio_server(marks: Path, **options: Any) -> MCPServer:
    env = {"MCP_TEST_MARKS": str(marks)}
    return MCPServer.stdio(sys.executable, [str(APP), "stdio"], env=env, name="app", **options)


@pytest.fixture(scope="module")
def http_url(marks: Path) -> Iterator[str]:
    """A streamable-HTTP test server (uvicorn) on a free localhost port, for the whole module."""
    port = free_port()
    env = {**os.environ, "MCP_TEST_MARKS": str(marks)}
    proc = subprocess.Popen(
        [sys.executable, str(APP), "http", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module", params=["stdio", "http"])
def server(request: pytest.FixtureRequest, marks: Path) -> Iterator[MCPServer]:
    """The test server over each transport, connected once per module."""
    if request.param == "stdio":
        srv = stdio_server(marks)
    else:
        srv = MCPServer.http(request.getfixturevalue("http_url"), name="app")
    with srv:
        yield srv


@pytest.fixture(scope="session")
def npm_bin() -> Path:
    """``node_modules/.bin`` with the reference servers (``npm install`` runs once, when they are missing)."""
    from tests.conftest import require

    require("node")
    bin_dir = NPM_DIR / "node_modules" / ".bin"
    wanted = [bin_dir / "mcp-server-filesystem", bin_dir / "mcp-server-everything"]
    if not all(p.exists() for p in wanted):
        NPM_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--prefix", str(NPM_DIR), "--no-audit", "--no-fund", *NPM_PACKAGES],
            check=True,
            capture_output=True,
            timeout=600,
        )
    return bin_dir
