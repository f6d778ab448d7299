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
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import anyio
import anyio.to_thread
import mcp_types as types
from mcp.server.lowlevel import Server

from podium.agent.decisions import Allow, Ask, Deny
from podium.messages import ContentPart, File, Image, Text, ToolCall, ToolResult
from podium.tools.context import RunContext
from podium.tools.executor import ToolInvocation, run_async
from podium.tools.tool import as_tool
from podium.tools.toolset import Toolset, ToolsetLike, resolve_tools

if TYPE_CHECKING:
    from podium.agent.agent import Agent
    from podium.agent.rules import ApprovalPolicy
    from podium.tools.tool import Tool

__all__ = ["AskMode", "ToolServer", "agent_tool", "to_mcp_content"]

logger = logging.getLogger("podium.mcp.server")

AskMode = Literal["deny", "allow"]


def _no_one_to_ask(name: str, reason: str) -> str:
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
    policy: ApprovalPolicy | None = None
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
        decision = self.policy.decide(call, tool) if self.policy is not None else Allow()
        if isinstance(decision, Deny):
            return _error(call, f"Denied: {decision.reason}")
        if isinstance(decision, Ask) and self.ask != "allow":
            return _error(call, _no_one_to_ask(name, decision.reason))
        if isinstance(decision, Allow) and decision.args is not None:
            call = replace(call, args=dict(decision.args), raw_args=None)
        approved = isinstance(decision, Ask)  # allowed by --yes: a tool's ApprovalRequired is answered too
        ctx: RunContext[Any] = RunContext(deps=None, run_id=f"mcp-{id(self):x}", step=0, agent_name=self.name)
        invocation = ToolInvocation(tool, call, ctx.for_call(call, 0, approved=approved))
        outcome = await run_async(invocation, anyio.to_thread.run_sync)
        if outcome.kind == "approval" and not approved:  # the tool raised ApprovalRequired
            if self.ask != "allow":
                return _error(call, _no_one_to_ask(name, getattr(outcome.error, "reason", "")))
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


def agent_tool(
    agent: Agent, name: str = "agent", description: str | None = None, *, ask: AskMode = "deny"
) -> Tool[..., Any]:
    """``agent`` as one tool: a call runs it on the task given and returns its final output.

    The agent's own policy governs its tool calls; its "ask" decisions are answered by ``ask`` (an MCP server
    has no one to ask). A run that fails (an error of the provider, a budget) is an error result saying why.
    """
    from podium.agent.decisions import Allow as AllowDecision
    from podium.agent.decisions import Deny as DenyDecision
    from podium.paused import ApprovalRequest
    from podium.tools.tool import Tool

    def approver(request: ApprovalRequest) -> AllowDecision | DenyDecision:
        if ask == "allow":
            return AllowDecision(reason="allowed by --yes")
        return DenyDecision(_no_one_to_ask(request.call.name, request.reason))

    async def run(task: str) -> str:
        """Run the agent on a task and return its answer.

        Args:
            task: What the agent should do, with everything it needs to know.
        """
        result = await agent.arun(task, approver=approver)
        return str(result.output)

    text = description or f"Ask the agent {agent.name or name!r} to do a task; it answers with its result."
    return Tool(run, name=name, description=text)
