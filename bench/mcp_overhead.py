"""Per-call overhead of an MCP tool call against the same Python tool: median wall time per call.

    python bench/mcp_overhead.py [--calls 300]

The tool is ``add(a, b)``. Rows:

* ``python tool``: the ``@tool`` function run by Podium's executor (``run_sync``: the sync driver's path;
  ``run_async``: the async driver's path).
* ``mcp stdio`` / ``mcp http``: the same tool on an MCP server (the SDK's ``MCPServer``, in a child process
  over stdio, or uvicorn on localhost over streamable HTTP), called through ``podium.mcp`` by the same
  executor paths: validation against the server's schema, the hop to the connection's loop thread, the
  request, the reply turned into parts.
* ``sdk only``: the SDK's own ``Client.call_tool`` on a loop of its own, no Podium: the floor for the
  transport and the server.

Wall time includes the server's work; on 2 busy cores expect some noise (medians of many calls).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
APP = REPO / "tests" / "mcp" / "server_app.py"
sys.path.insert(0, str(REPO))


def add(a: int, b: int | None = None) -> int:
    """Add two numbers."""
    return a + (b or 0)


def _invocation(tool: Any) -> Any:
    from podium.messages import ToolCall
    from podium.tools.context import RunContext
    from podium.tools.executor import ToolInvocation

    call = ToolCall("c1", tool.name, {"a": 1, "b": 2})
    return ToolInvocation(tool, call, RunContext(deps=None, run_id="bench", step=0).for_call(call, 0))


def _median_ms(fn: Callable[[], Any], calls: int) -> float:
    for _ in range(10):
        fn()
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def _async_median_ms(make: Callable[[], Any], calls: int) -> float:
    async def main() -> float:
        for _ in range(10):
            await make()
        times = []
        for _ in range(calls):
            t = time.perf_counter()
            await make()
            times.append(time.perf_counter() - t)
        return statistics.median(times) * 1000

    return asyncio.run(main())


def measure(tool: Any, calls: int) -> tuple[float, float]:
    """Median ms per call through ``run_sync`` and ``run_async``."""
    from podium.tools.executor import run_async, run_sync

    inv = _invocation(tool)

    def check(outcome: Any) -> None:
        assert outcome.kind == "ok", outcome
        assert outcome.result.content[0].text == "3", outcome

    sync = _median_ms(lambda: check(run_sync(inv)), calls)

    async def one() -> None:
        loop = asyncio.get_running_loop()
        check(await run_async(inv, lambda fn: loop.run_in_executor(None, fn)))

    return sync, _async_median_ms(one, calls)


def sdk_only(calls: int) -> float:
    from mcp.client.stdio import StdioServerParameters

    from mcp import Client

    async def main() -> float:
        params = StdioServerParameters(command=sys.executable, args=[str(APP), "stdio"])
        async with Client(params, mode="legacy", cache=None) as client:
            for _ in range(10):
                await client.call_tool("add", {"a": 1, "b": 2})
            times = []
            for _ in range(calls):
                t = time.perf_counter()
                await client.call_tool("add", {"a": 1, "b": 2})
                times.append(time.perf_counter() - t)
            return statistics.median(times) * 1000

    return asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=300)
    calls = parser.parse_args().calls

    from tests.mcp.conftest import free_port, wait_for_port

    from podium.mcp import MCPServer
    from podium.tools.tool import tool

    rows: list[tuple[str, float, float | None]] = []
    rows.append(("python tool", *measure(tool(add), calls)))
    with MCPServer.stdio(sys.executable, [str(APP), "stdio"]) as srv:
        rows.append(("mcp stdio", *measure(next(t for t in srv.get_tools() if t.name == "add"), calls)))
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(APP), "http", str(port)], stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc)
        with MCPServer.http(f"http://127.0.0.1:{port}/mcp") as srv:
            rows.append(("mcp http", *measure(next(t for t in srv.get_tools() if t.name == "add"), calls)))
    finally:
        proc.terminate()
        proc.wait(10)
    rows.append(("sdk only (stdio, no Podium)", sdk_only(calls), None))
    print(f"median ms per call of add(1, 2), {calls} calls each")
    print("| tool | sync driver path (run_sync) | async driver path (run_async) |")
    print("|---|---:|---:|")
    for name, sync, asyncd in rows:
        print(f"| {name} | {sync:.3f} | {'' if asyncd is None else f'{asyncd:.3f}'} |")


if __name__ == "__main__":
    main()
