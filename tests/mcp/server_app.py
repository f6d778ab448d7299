"""A real MCP server for the tests, written with the SDK's own server API (``MCPServer``, formerly FastMCP).

Run as ``python server_app.py stdio`` or ``python server_app.py http PORT``. With ``MCP_TEST_MARKS`` set to
a directory, a cancelled ``slow`` call writes ``cancelled-<tag>`` there (proof that the cancellation reached
the server), and each call of ``slow`` writes ``started-<tag>``.
"""

from __future__ import annotations

import base64
import os
import sys
from pathlib import Path
from typing import Literal

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import AudioContent, BlobResourceContents, EmbeddedResource, ImageContent, TextContent
from pydantic import BaseModel, Field

# a 1x1 PNG
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt "

server = MCPServer("podium-test", instructions="A server for Podium's tests.")


def _mark(name: str) -> None:
    marks = os.environ.get("MCP_TEST_MARKS")
    if marks:
        Path(marks, name).write_text("1")


class Address(BaseModel):
    street: str
    city: str = Field(description="The city.")


class Order(BaseModel):
    item: str
    quantity: int = 1
    ship_to: Address | None = None


@server.tool()
def add(a: int, b: int | None = None) -> int:
    """Add two numbers; b may be null."""
    return a + (b or 0)


@server.tool()
def place(order: Order, priority: Literal["low", "high"] | int = "low", notes: list[str] | None = None) -> str:
    """Place an order (nested objects, $defs/$ref, anyOf, enums, nullable)."""
    where = order.ship_to.city if order.ship_to else "nowhere"
    return f"{order.quantity} x {order.item} to {where}, priority {priority}, {len(notes or [])} notes"


@server.tool()
def picture() -> list[TextContent | ImageContent]:
    """Return a caption and a tiny PNG."""
    return [
        TextContent(type="text", text="a red dot"),
        ImageContent(type="image", data=base64.b64encode(PNG).decode(), mime_type="image/png"),
    ]


@server.tool()
def media() -> list[AudioContent | EmbeddedResource]:
    """Return audio and an embedded binary resource."""
    blob = BlobResourceContents(
        uri="file:///data/report.pdf", mime_type="application/pdf", blob=base64.b64encode(b"%PDF-1.4").decode()
    )
    return [
        AudioContent(type="audio", data=base64.b64encode(WAV).decode(), mime_type="audio/wav"),
        EmbeddedResource(type="resource", resource=blob),
    ]


@server.tool()
def fail(reason: str) -> str:
    """Fail with the reason."""
    raise ToolError(f"failed on purpose: {reason}")


@server.tool()
async def slow(seconds: float, tag: str, ctx: Context) -> str:
    """Sleep, reporting progress every 0.1 s."""
    _mark(f"started-{tag}")
    steps = max(1, int(seconds * 10))
    try:
        for i in range(steps):
            await ctx.report_progress(i + 1, steps, f"step {i + 1}")
            await anyio.sleep(seconds / steps)
    except anyio.get_cancelled_exc_class():
        _mark(f"cancelled-{tag}")
        raise
    return f"slept {seconds}"


@server.tool()
def pid() -> int:
    """The server's process id."""
    return os.getpid()


@server.tool()
def die() -> str:
    """Exit the server process in the middle of the call."""
    os._exit(3)


@server.tool()
async def grow(name: str, ctx: Context) -> str:
    """Add a tool called ``name`` and tell the client the list changed."""

    def added() -> str:
        return f"I am {name}"

    server.add_tool(added, name=name, description=f"A tool added at run time ({name}).")
    await ctx.session.send_tool_list_changed()
    return f"added {name}"


@server.resource("data://greeting", mime_type="text/plain")
def greeting() -> str:
    """A greeting."""
    return "hello from the resource"


@server.resource("data://pixel", mime_type="image/png")
def pixel() -> bytes:
    """A tiny PNG."""
    return PNG


@server.prompt()
def review(code: str) -> str:
    """Ask for a code review."""
    return f"Please review this code:\n{code}"


if __name__ == "__main__":
    if sys.argv[1] == "stdio":
        server.run("stdio")
    else:
        server.settings.log_level = "WARNING"
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
