"""Toolsets compose: lists, filters, prefixes, combinations; the agent calls prefixed tools by their new names."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from podium import Agent, tool
from podium.exceptions import UserError
from podium.testing import ScriptedModel
from podium.testing.models import call
from podium.tools import ToolList
from podium.tools.context import RunContext
from podium.tools.tool import Tool
from podium.tools.toolset import Toolset, resolve_tools


@tool
def read(path: str) -> str:
    """Read."""
    return f"read {path}"


@tool
def write(path: str, text: str) -> str:
    """Write."""
    return f"wrote {path}"


def delete(path: str) -> str:
    """Delete (a plain function, wrapped automatically)."""
    return f"deleted {path}"


def test_list_filter_prefix_combine() -> None:
    files = ToolList([read, write, delete])
    assert [t.name for t in files.get_tools()] == ["read", "write", "delete"]
    safe = files.filtered(lambda t: t.name != "delete")
    assert [t.name for t in safe.get_tools()] == ["read", "write"]
    remote = ToolList([read]).prefixed("remote")
    assert [t.name for t in remote.get_tools()] == ["remote_read"]
    both = safe + remote
    tools = resolve_tools([both])
    assert list(tools) == ["read", "write", "remote_read"]
    assert tools["remote_read"].definition.name == "remote_read"
    assert tools["remote_read"].definition.parameters == read.definition.parameters
    assert read.name == "read"  # the original is untouched


def test_agent_calls_prefixed_tools() -> None:
    model = ScriptedModel([[call("remote_read", {"path": "a"}), call("read", {"path": "b"})], "done"])
    result = Agent(model, tools=[read, ToolList([read]).prefixed("remote")]).run("?")
    assert [r.text for r in result.messages[2].tool_results] == ["read a", "read b"]
    assert [t.name for t in model.requests[0][1].tools] == ["read", "remote_read"]


def test_name_clash_is_an_error_that_suggests_a_prefix() -> None:
    with pytest.raises(UserError, match="prefixed"):
        resolve_tools([ToolList([read]), ToolList([tool(name="read")(delete)])])


class DepsToolset(Toolset):
    """Offers the tools its ``deps`` name: a toolset that only works with the run's context."""

    def __init__(self) -> None:
        self.contexts: list[RunContext[Any] | None] = []

    def get_tools(self, ctx: RunContext[Any] | None = None) -> Sequence[Tool[..., Any]]:
        self.contexts.append(ctx)
        if ctx is None:
            raise AssertionError("get_tools was called without the run context")
        by_name = {t.name: t for t in (read, write)}
        return [by_name[name] for name in ctx.deps["tools"]]


def test_toolset_gets_the_run_context_with_deps() -> None:
    toolset = DepsToolset()
    model = ScriptedModel([[call("read", {"path": "a"})], "done"])
    agent = Agent(model, tools=[toolset], name="reader")
    result = agent.run("?", deps={"tools": ["read"]}, inject={"k": 1})
    assert [t.name for t in model.requests[0][1].tools] == ["read"]
    assert result.messages[2].tool_results[0].text == "read a"
    [ctx] = toolset.contexts  # once per run, with the run's context
    assert ctx is not None
    assert ctx.deps == {"tools": ["read"]} and ctx.run_id == result.run_id
    assert ctx.agent_name == "reader" and ctx.agent_id == agent.id and ctx.inject["k"] == 1
    assert [m.text for m in ctx.messages] == ["?"]


def test_toolset_context_async_and_per_run() -> None:
    toolset = DepsToolset()
    agent = Agent(ScriptedModel([[call("write", {"path": "a", "text": "t"})], "done", "done"]), tools=[toolset])
    result = asyncio.run(agent.arun("?", deps={"tools": ["write"]}))
    assert result.messages[2].tool_results[0].text == "wrote a"
    agent.run("again", deps={"tools": ["read", "write"]}, message_history=result.messages)
    assert [c.deps["tools"] for c in toolset.contexts if c is not None] == [["write"], ["read", "write"]]
