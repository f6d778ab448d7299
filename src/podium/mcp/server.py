"""Podium tools as an MCP server (``podium mcp serve``), on the official SDK's low-level ``Server``.

:class:`ToolServer` answers ``tools/list`` with each tool's :class:`~podium.settings.ToolDefinition` as is
(the schema Podium sends to models, not one re-derived by the SDK) and runs ``tools/call`` the way an agent's
loop does: the approval policy decides first (deny -> an error result saying why), then the call runs through
Podium's executor (argument validation, timeout, output cap, sandbox of the built-in tools). Every failure a
model could act on -- bad arguments, a denied or refused call, an exception, a timeout -- is a result with
``isError: true`` and readable text, never a protocol error.

An MCP server has no person to ask: a call the policy would *ask* about is refused with a message saying so,
unless the server was started with ``ask="allow"`` (``podium mcp serve --yes``). MCP elicitation is not used:
clients that support it would show the question to their own user, but most do not, and a refusal that says
why is the same for every client.

Results: text becomes ``TextContent``; an :class:`~podium.messages.Image` with bytes becomes ``ImageContent``;
an audio :class:`~podium.messages.File` becomes ``AudioContent``; other files become an embedded resource
(text or blob, ``podium://result/...`` unless a file name is known); images and files given by URL become
resource links.

The transports are in :mod:`podium.mcp.serving` (stdio, and streamable HTTP with a token and Host/Origin checks).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

import anyio
import anyio.to_thread
import mcp_types as types
from mcp.server.lowlevel import Server

from podium.messages import ContentPart, File, Image, Text, ToolCall, ToolResult
from podium.tools.context import RunContext
from podium.tools.executor import ToolInvocation, run_async
from podium.tools.tool import Tool, as_tool
from podium.tools.toolset import Toolset, ToolsetLike, resolve_tools

__all__ = ["AskMode", "CallPolicy", "ToolServer", "no_one_to_ask", "to_mcp_content"]

logger = logging.getLogger("podium.mcp.server")

AskMode = Literal["deny", "allow"]


class CallPolicy(Protocol):
    """What decides a call before it runs: an :class:`~podium.agent.rules.ApprovalPolicy` (or any such object).

    ``decide`` returns a decision with ``kind`` ``"allow"`` (with ``args``: a rewrite, or ``None``), ``"deny"``
    or ``"ask"`` (both with a ``reason``), as :mod:`podium.agent.decisions` defines them.
    """

    def decide(self, call: ToolCall, tool: Tool[..., Any]) -> Any:
        """The decision for ``call`` of ``tool``."""
        ...


def no_one_to_ask(name: str, reason: str) -> str:
    """The error text of a call that needs a person's approval, which an MCP server cannot get."""
    why = f" ({reason})" if reason else ""
    return (
        f"Not run: the approval policy asks a person before {name} runs{why}, and this MCP server has no one to "
        "ask. Do the task without this call, or ask the user to restart the server with --yes (podium mcp serve) "
        "to allow such calls."
    )


@dataclass
class ToolServer:
    """Podium tools served over MCP: the tool list, the approval policy, and what to do with "ask".

    Example::

        server = ToolServer([workspace_tools("project")], policy=default_policy(Path("project")))
        anyio.run(serve_stdio, server)  # from podium.mcp.serving
    """

    tools: Sequence[ToolsetLike]
    """Tools, functions and toolsets, as given to ``Agent(tools=...)``."""
    name: str = "podium"
    """The server's name in the MCP handshake."""
    policy: CallPolicy | None = None
    """Decides each call before it runs (``None``: every call runs)."""
    ask: AskMode = "deny"
    """What a policy's "ask" (or a tool's ``ApprovalRequired``) becomes: refused (default) or allowed."""
    instructions: str | None = None
    """Instructions sent to the client in the handshake."""

    def __post_init__(self) -> None:
        self._calls = 0
        # functions become Tools once (their schemas are built once); toolsets are asked at each request,
        # since their tools may change (an MCP server behind this one)
        self.tools = [item if isinstance(item, Toolset) else as_tool(item) for item in self.tools]
        resolve_tools(self.tools)  # duplicate names are an error now, not at the first request

    def definitions(self) -> list[types.Tool]:
        """The tools as MCP tool entries, with Podium's own JSON schemas."""
        out = []
        for tool in resolve_tools(self.tools).values():
            d = tool.definition
            out.append(types.Tool(name=d.name, description=d.description or None, input_schema=dict(d.parameters)))
        return out

    async def call(self, name: str, arguments: dict[str, Any] | None) -> ToolResult:
        """Run one call as an agent's loop would (policy, then the executor); failures are error results."""
        self._calls += 1
        call = ToolCall(f"mcp_{self._calls}", name, dict(arguments or {}))
        tools = resolve_tools(self.tools)
        tool = tools.get(name)
        if tool is None:
            return _error(call, f"Unknown tool {name!r}; this server has: {', '.join(sorted(tools)) or 'no tools'}.")
        decision = self.policy.decide(call, tool) if self.policy is not None else None
        kind = getattr(decision, "kind", "allow")
        reason = str(getattr(decision, "reason", ""))
        if kind not in ("allow", "ask", "deny"):  # fail closed on what this server does not understand
            return _error(call, f"Not run: the policy gave a decision this server does not know ({decision!r}).")
        if kind == "deny":
            return _error(call, f"Denied: {reason}")
        if kind == "ask" and self.ask != "allow":
            return _error(call, no_one_to_ask(name, reason))
        args: Mapping[str, Any] | None = getattr(decision, "args", None) if kind == "allow" else None
        if args is not None:  # the policy rewrote the call
            call = replace(call, args=dict(args), raw_args=None)
        approved = kind == "ask"  # allowed by --yes: a tool's ApprovalRequired is answered too
        ctx: RunContext[Any] = RunContext(deps=None, run_id=f"mcp-{id(self):x}", step=0, agent_name=self.name)
        invocation = ToolInvocation(tool, call, ctx.for_call(call, 0, approved=approved))
        outcome = await run_async(invocation, anyio.to_thread.run_sync)
        if outcome.kind == "approval" and not approved:  # the tool raised ApprovalRequired
            if self.ask != "allow":
                return _error(call, no_one_to_ask(name, getattr(outcome.error, "reason", "")))
            # as after a person's yes in an agent's run: the call runs again, with ctx.approved set
            invocation = ToolInvocation(tool, call, ctx.for_call(call, 0, approved=True))
            outcome = await run_async(invocation, anyio.to_thread.run_sync)
        return outcome.result

    def build(self) -> Server[Any]:
        """The SDK server answering ``tools/list`` and ``tools/call``."""

        async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
            return types.ListToolsResult(tools=self.definitions())

        async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
            result = await self.call(params.name, params.arguments)
            return types.CallToolResult(content=to_mcp_content(result.content), is_error=result.is_error)

        return Server(self.name, instructions=self.instructions, on_list_tools=list_tools, on_call_tool=call_tool)


def _error(call: ToolCall, text: str) -> ToolResult:
    return ToolResult(call.id, call.name, (Text(text),), is_error=True)


def to_mcp_content(parts: Sequence[ContentPart]) -> list[types.ContentBlock]:
    """Podium result parts as MCP content blocks (text, image, audio, embedded resource, resource link)."""
    out: list[types.ContentBlock] = []
    for i, part in enumerate(parts):
        if isinstance(part, Text):
            out.append(types.TextContent(type="text", text=part.text))
        elif isinstance(part, (Image, File)) and part.data is None:
            url = part.url or ""
            name = (part.filename if isinstance(part, File) else None) or url.rsplit("/", 1)[-1] or "link"
            out.append(types.ResourceLink(type="resource_link", uri=url, name=name, mime_type=part.media_type))
        elif isinstance(part, Image):
            data = base64.b64encode(part.data or b"").decode()
            out.append(types.ImageContent(type="image", data=data, mime_type=part.media_type or "image/png"))
        else:
            out.append(_file_block(part, i))
    return out


def _file_block(part: File, index: int) -> types.ContentBlock:
    data = part.data or b""
    media = part.media_type or "application/octet-stream"
    if media.startswith("audio/"):
        return types.AudioContent(type="audio", data=base64.b64encode(data).decode(), mime_type=media)
    uri = f"podium://result/{part.filename or index}"
    resource: types.TextResourceContents | types.BlobResourceContents
    if media.startswith("text/") or media in ("application/json", "application/xml"):
        try:
            resource = types.TextResourceContents(uri=uri, mime_type=media, text=data.decode())
        except UnicodeDecodeError:
            resource = types.BlobResourceContents(uri=uri, mime_type=media, blob=base64.b64encode(data).decode())
    else:
        resource = types.BlobResourceContents(uri=uri, mime_type=media, blob=base64.b64encode(data).decode())
    return types.EmbeddedResource(type="resource", resource=resource)
