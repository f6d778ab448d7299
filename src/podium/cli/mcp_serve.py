"""``podium mcp serve``: the built-in workspace tools, a Python toolset, or an agent, as an MCP server.

The built-in tools are served with the CLI's sandbox and approval policy (:func:`podium.cli.session.default_policy`):
paths outside the workspace are refused, reading and editing inside it is allowed, and what the policy would ask
a person about (shell commands, protected writes) is refused with a message saying so, since an MCP server has no
one to ask; ``--yes`` allows those calls instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from podium.exceptions import UserError

if TYPE_CHECKING:
    from podium.agent.agent import Agent
    from podium.mcp.server import AskMode, ToolServer
    from podium.paused import ApprovalRequest
    from podium.tools.tool import Tool

__all__ = ["agent_tool", "serve", "serve_http"]


def agent_tool(agent: Agent, name: str = "agent", *, ask: AskMode = "deny") -> Tool[..., Any]:
    """``agent`` as one tool: a call runs it on the task given and returns its final output.

    The agent's own policy governs its tool calls; its "ask" decisions are answered by ``ask`` (an MCP server
    has no one to ask). A run that fails (a provider error, a budget) becomes an error result saying why.
    """
    from podium.agent.decisions import Allow, Deny
    from podium.mcp.server import no_one_to_ask
    from podium.tools.tool import Tool

    def approver(request: ApprovalRequest) -> Allow | Deny:
        if ask == "allow":
            return Allow(reason="allowed by --yes")
        return Deny(no_one_to_ask(request.call.name, request.reason))

    async def run(task: str) -> str:
        """Run the agent on a task and return its answer.

        Args:
            task: What the agent should do, with everything it needs to know.
        """
        result = await agent.arun(task, approver=approver)
        return str(result.output)

    described = f"Ask the agent {agent.name or name!r} to do a task; it answers with its result."
    return Tool(run, name=name, description=described)


async def serve_http(server: ToolServer, *, host: str, port: int, token: str | None) -> None:
    """Serve ``server`` over streamable HTTP at ``http://host:port/mcp`` (uvicorn) until stopped."""
    import uvicorn

    from podium.mcp.serving import http_app

    app = http_app(server, host=host, port=port, token=token)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    await uvicorn.Server(config).serve()


def _load_object(spec: str) -> Any:
    """``module:attribute`` (a Toolset, a Tool, a function, or a list of them)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise UserError(f"--toolset {spec!r}: give it as module:attribute, e.g. mytools:toolset")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UserError(f"--toolset {spec!r}: cannot import {module_name!r} ({exc})") from exc
    try:
        value = getattr(module, attr)
    except AttributeError as exc:
        raise UserError(f"--toolset {spec!r}: module {module_name!r} has no {attr!r}") from exc
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _build(
    workspace: Path, only: tuple[str, ...], toolsets: tuple[str, ...], agent: bool, model: str | None, yes: bool
) -> ToolServer:
    from podium.cli.session import TOOL_INSTRUCTIONS, builtin_tools, default_policy
    from podium.mcp.server import ToolServer

    ask: AskMode = "allow" if yes else "deny"
    workspace = workspace.resolve()
    if not workspace.is_dir():
        raise UserError(f"the workspace {workspace} is not a directory; create it or give another with -w")
    tools: list[Any] = builtin_tools(workspace, only or None)
    chosen: list[Any] = [item for spec in toolsets for item in _load_object(spec)]
    tools.extend(chosen)
    policy = default_policy(workspace)
    if chosen:  # served on purpose: allowed, after the rules that refuse paths outside the workspace
        from podium.agent.rules import Rule
        from podium.tools.toolset import resolve_tools

        names = resolve_tools(chosen)
        policy = dataclasses.replace(policy, rules=[*policy.rules, *(Rule("allow", tool=n) for n in names)])
    if not agent:
        return ToolServer(tools, policy=policy, ask=ask)
    from podium.agent.agent import Agent
    from podium.cli.config import choose_model
    from podium.providers.registry import model as resolve

    runner = Agent(resolve(choose_model(model).spec), tools=tools, instructions=TOOL_INSTRUCTIONS, policy=policy)
    return ToolServer([agent_tool(runner, ask=ask)])


@click.command("serve")
@click.option("--transport", type=click.Choice(["stdio", "http"]), default="stdio", show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (http).")
@click.option("--port", default=8765, show_default=True, help="Port to listen on (http).")
@click.option(
    "--token",
    envvar="PODIUM_MCP_TOKEN",
    help="Bearer token every HTTP request must carry (env PODIUM_MCP_TOKEN). Made up and printed when listening "
    "beyond localhost without one.",
)
@click.option(
    "-w",
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    help="Directory the built-in tools work in (default: the current one).",
)
@click.option("--tool", "only_tools", multiple=True, help="Serve only this built-in tool (repeatable).")
@click.option("--toolset", "toolsets", multiple=True, help="Also serve module:attribute (a toolset, tool or list).")
@click.option("--agent", is_flag=True, help="Serve an agent with these tools as one tool, 'agent', instead.")
@click.option("-m", "--model", help="The agent's model (--agent), e.g. anthropic:claude-sonnet-4-5.")
@click.option("-y", "--yes", is_flag=True, help="Allow calls the policy would ask about (default: refused).")
def serve(
    transport: str,
    host: str,
    port: int,
    token: str | None,
    workspace: Path,
    only_tools: tuple[str, ...],
    toolsets: tuple[str, ...],
    agent: bool,
    model: str | None,
    yes: bool,
) -> None:
    """Serve Podium's workspace tools (or an agent) to MCP clients, over stdio or streamable HTTP.

    Paths outside the workspace are refused; shell commands and protected writes are refused too (an MCP
    server has no one to ask) unless --yes. HTTP listens on 127.0.0.1; elsewhere it requires a token.
    """
    import anyio

    from podium.mcp.serving import is_loopback, serve_stdio

    if model and not agent:
        raise UserError("--model is the model of --agent; add --agent, or leave --model out")
    server = _build(workspace, only_tools, toolsets, agent, model, yes)
    os.environ.pop("PODIUM_MCP_TOKEN", None)  # the commands the tools start must not inherit it
    if transport == "stdio":
        with contextlib.suppress(KeyboardInterrupt):
            anyio.run(serve_stdio, server)
        return
    if not token and not is_loopback(host):
        token = secrets.token_urlsafe(32)
        click.echo(f"token (send as Authorization: Bearer <token>): {token}", err=True)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"serving MCP on http://{shown}:{port}/mcp", err=True)
    with contextlib.suppress(KeyboardInterrupt):
        anyio.run(lambda: serve_http(server, host=host, port=port, token=token))
