"""Toolsets compose: lists, filters, prefixes, combinations; the agent calls prefixed tools by their new names."""

from __future__ import annotations

import pytest

from podium import Agent, tool
from podium.exceptions import UserError
from podium.testing import ScriptedModel
from podium.testing.models import call
from podium.tools import ToolList
from podium.tools.toolset import resolve_tools


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
