"""Per-call latency of Podium's MCP server (``podium mcp serve``) against calling the same tool in-process.

    python bench/mcp_server_overhead.py [--calls 300]

The tool is ``add(a, b)``, served with ``--toolset mcp_server_overhead:SERVED`` next to the built-in tools
(so every call goes through the approval policy). Rows, median wall time per call:

* ``in-process``: :meth:`podium.mcp.server.ToolServer.call` (policy, then the executor), no transport.
* ``SDK client -> podium mcp serve``: the official SDK's ``Client.call_tool`` over stdio and over
  streamable HTTP on localhost.
* ``SDK client -> SDK MCPServer``: the same call to a server written with the SDK's own server API
  (``tests/mcp/server_app.py``), the reference for the transport.
* ``Podium client -> podium mcp serve``: ``podium.mcp.MCPServer`` over stdio (the executor's sync path).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
APP = REPO / "tests" / "mcp" / "server_app.py"
sys.path.insert(0, str(REPO))


def add(a: int, b: int | None = None) -> int:
    """Add two numbers."""
    return a + (b or 0)


SERVED = [add]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(REPO / "src")]), "PODIUM_CONFIG": os.devnull}


def _serve_args(workspace: str, *extra: str) -> list[str]:
    return ["-m", "podium.cli", "mcp", "serve", "-w", workspace, "--toolset", "mcp_server_overhead:SERVED", *extra]


async def _median_ms(call: Callable[[], Awaitable[Any]], calls: int) -> float:
    for _ in range(10):
        await call()
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        await call()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


async def _sdk(transport: Any, calls: int) -> float:
    from mcp import Client

    async with Client(transport, mode="legacy", cache=None) as client:

        async def one() -> None:
            result = await client.call_tool("add", {"a": 1, "b": 2})
            assert not result.is_error, result

        return await _median_ms(one, calls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=300)
    calls = parser.parse_args().calls

    import tempfile

    from mcp.client.stdio import StdioServerParameters, stdio_client
    from mcp.client.streamable_http import streamable_http_client
    from tests.mcp.conftest import free_port, wait_for_port

    from podium.cli.mcp_serve import _build
    from podium.mcp import MCPServer

    workspace = tempfile.mkdtemp()
    rows: list[tuple[str, float]] = []
    server = _build(Path(workspace), (), ("mcp_server_overhead:SERVED",), False, None, False)
    rows.append(
        ("in-process (ToolServer.call)", asyncio.run(_median_ms(lambda: server.call("add", {"a": 1, "b": 2}), calls)))
    )
    params = StdioServerParameters(command=sys.executable, args=_serve_args(workspace), env=_env())
    rows.append(("SDK client -> podium mcp serve (stdio)", asyncio.run(_sdk(stdio_client(params), calls))))
    reference = StdioServerParameters(command=sys.executable, args=[str(APP), "stdio"])
    rows.append(("SDK client -> SDK MCPServer (stdio)", asyncio.run(_sdk(stdio_client(reference), calls))))
    port = free_port()
    args = _serve_args(workspace, "--transport", "http", "--port", str(port))
    proc = subprocess.Popen([sys.executable, *args], env=_env(), stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc)
        url = f"http://127.0.0.1:{port}/mcp"
        rows.append(("SDK client -> podium mcp serve (http)", asyncio.run(_sdk(streamable_http_client(url), calls))))
    finally:
        proc.terminate()
        proc.wait(10)
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(APP), "http", str(port)], stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc)
        url = f"http://127.0.0.1:{port}/mcp"
        rows.append(("SDK client -> SDK MCPServer (http)", asyncio.run(_sdk(streamable_http_client(url), calls))))
    finally:
        proc.terminate()
        proc.wait(10)
    with MCPServer.stdio(sys.executable, _serve_args(workspace), env=_env()) as srv:
        from bench.mcp_overhead import measure

        tool = next(t for t in srv.get_tools() if t.name == "add")
        rows.append(("Podium client -> podium mcp serve (stdio, run_sync)", measure(tool, calls)[0]))
    print(f"median ms per call of add(1, 2), {calls} calls each")
    print("| path | ms per call |")
    print("|---|---:|")
    for name, ms in rows:
        print(f"| {name} | {ms:.3f} |")


if __name__ == "__main__":
    main()
