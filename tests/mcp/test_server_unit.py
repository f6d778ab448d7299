"""ToolServer in-process: approval outcomes, result conversion, set-up errors (the transports: test_server.py)."""

from __future__ import annotations

import base64
from pathlib import Path

import anyio
import mcp_types as types
import pytest

from podium.agent.rules import ApprovalPolicy, Rule
from podium.exceptions import ApprovalRequired, UserError
from podium.mcp.server import ToolServer, to_mcp_content
from podium.messages import File, Image, Text
from podium.tools import RunContext, tool


@tool
def transfer(ctx: RunContext[None], amount: int) -> str:
    """Move money; needs a person's yes above 100.

    Args:
        amount: How much.
    """
    if amount > 100 and not ctx.approved:
        raise ApprovalRequired(f"transfer of {amount}")
    return f"moved {amount}"


@tool
def ping() -> str:
    """Answer pong."""
    return "pong"


def text(result: object) -> str:
    return "".join(p.text for p in getattr(result, "content", ()) if isinstance(p, Text))


@pytest.mark.parametrize("ask", ["deny", "allow"])
def test_a_tools_approval_required_is_refused_or_allowed_by_the_ask_mode(ask: str) -> None:
    server = ToolServer([transfer], ask=ask)  # type: ignore[arg-type]
    small = anyio.run(server.call, "transfer", {"amount": 5})
    assert not small.is_error and text(small) == "moved 5"
    big = anyio.run(server.call, "transfer", {"amount": 500})
    if ask == "deny":
        assert big.is_error and "no one to ask" in text(big) and "transfer of 500" in text(big)
    else:
        assert not big.is_error and text(big) == "moved 500"


def test_policy_deny_and_ask_become_error_results_with_the_reason() -> None:
    policy = ApprovalPolicy([Rule("deny", tool="ping", reason="pings are off today")], default="ask")
    server = ToolServer([ping, transfer], policy=policy)
    denied = anyio.run(server.call, "ping", {})
    assert denied.is_error and text(denied) == "Denied: pings are off today"
    asked = anyio.run(server.call, "transfer", {"amount": 1})
    assert asked.is_error and "no one to ask" in text(asked) and "--yes" in text(asked)
    allowing = ToolServer([ping, transfer], policy=policy, ask="allow")
    assert text(anyio.run(allowing.call, "transfer", {"amount": 1})) == "moved 1"
    assert anyio.run(allowing.call, "ping", {}).is_error  # --yes never overrides a deny


def test_definitions_are_podiums_own_schemas() -> None:
    server = ToolServer([transfer, ping])
    listed = {t.name: t for t in server.definitions()}
    assert listed["transfer"].input_schema == dict(transfer.definition.parameters)
    assert "ctx" not in listed["transfer"].input_schema["properties"]
    assert listed["ping"].description == "Answer pong."


def test_duplicate_names_are_an_error_at_construction() -> None:
    with pytest.raises(UserError, match="two tools are named 'ping'"):
        ToolServer([ping, tool(name="ping")(lambda: "other")])


def test_every_part_kind_becomes_mcp_content() -> None:
    png = b"\x89PNG\r\n"
    blocks = to_mcp_content(
        [
            Text("t"),
            Image(png, media_type="image/png"),
            Image(url="https://example.com/a/cat.jpg", media_type="image/jpeg"),
            File(b"RIFF", media_type="audio/wav"),
            File(b"\xff\xfe\x00", media_type="text/plain"),
            File(url="https://example.com/r.pdf", media_type="application/pdf", filename="r.pdf"),
        ]
    )
    kinds = [type(b) for b in blocks]
    assert kinds == [
        types.TextContent,
        types.ImageContent,
        types.ResourceLink,
        types.AudioContent,
        types.EmbeddedResource,
        types.ResourceLink,
    ]
    assert isinstance(blocks[1], types.ImageContent) and base64.b64decode(blocks[1].data) == png
    assert isinstance(blocks[2], types.ResourceLink) and blocks[2].name == "cat.jpg"
    undecodable = blocks[4]
    assert isinstance(undecodable, types.EmbeddedResource)
    assert isinstance(undecodable.resource, types.BlobResourceContents)  # not valid UTF-8: kept as bytes
    assert isinstance(blocks[5], types.ResourceLink) and blocks[5].name == "r.pdf"


def test_cli_refuses_a_workspace_that_is_not_a_directory(tmp_path: Path) -> None:
    from podium.cli.mcp_serve import _build

    with pytest.raises(UserError, match="not a directory"):
        _build(tmp_path / "missing", (), (), False, None, False)
    with pytest.raises(UserError, match="module:attribute"):
        _build(tmp_path, (), ("nocolon",), False, None, False)
