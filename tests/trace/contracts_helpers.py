"""Real agent runs (ScriptedModel, tools that count their own executions) recorded into traces, for contract tests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from podium import Agent, tool
from podium.agent.approval import ApprovalPolicy, ApprovalRequest, Rule
from podium.messages import Message, ModelResponse, ToolCall, dump_messages, load_messages
from podium.testing import ScriptedModel
from podium.trace import Trace
from podium.usage import Usage

RAN: list[tuple[str, str]] = []
"""(tool, argument) of every execution of the tools below, in order (tests clear it)."""


@tool
def read(path: str) -> str:
    """Read a file."""
    RAN.append(("read", path))
    return f"contents of {path}"


@tool
def write(path: str, text: str) -> str:
    """Write a file."""
    RAN.append(("write", path))
    return f"wrote {path}"


@tool
def shell(command: str) -> str:
    """Run a command."""
    RAN.append(("shell", command))
    return f"ran {command}"


TOOLS = [read, write, shell]


def reply(*calls: ToolCall, cost: float = 0.1, tokens: tuple[int, int] = (100, 20)) -> ModelResponse:
    """A scripted response with these calls (or a text when there are none), its usage and cost."""
    parts: Sequence[Any] = calls or ("done",)
    return ModelResponse(tuple(parts), usage=Usage(tokens[0], tokens[1], requests=1), cost=cost)


def good_script() -> list[ModelResponse]:
    """read, then write (asked about, approved by the approver), then an answer: 3 steps, 2 calls."""
    return [
        reply(ToolCall("r1", "read", {"path": "notes.txt"})),
        reply(ToolCall("w1", "write", {"path": "out.txt", "text": "hello"})),
        reply(),
    ]


def bad_script() -> list[ModelResponse]:
    """read; then shell (rm -rf) and write in one response; then an answer: 3 steps, 3 calls, no approvals."""
    return [
        reply(ToolCall("r1", "read", {"path": "notes.txt"})),
        reply(
            ToolCall("s1", "shell", {"command": "rm -rf /tmp/x"}),
            ToolCall("w1", "write", {"path": "out.txt", "text": "hello"}),
        ),
        reply(),
    ]


ASK_WRITES = ApprovalPolicy([Rule("ask", tool="write")], default="allow")


def approve_all(request: ApprovalRequest) -> bool:
    """An approver that says yes."""
    return True


def record(script: Sequence[Any], **agent: Any) -> Trace:
    """Run an agent over ``script`` and return its trace (the run must finish)."""
    trace = Trace()
    Agent(ScriptedModel(list(script)), tools=TOOLS, **agent).run("tidy up", trace=trace)
    return trace


def damaged(trace: Trace, edit: Any) -> Trace:
    """A copy of ``trace`` whose records ``edit(records)`` changed (seq renumbered), as a file would hold it."""
    records = json.loads(json.dumps(trace.records))
    edit(records)
    for index, item in enumerate(records):
        item["seq"] = index
    return Trace.from_jsonl("".join(json.dumps(r) + "\n" for r in records))


def assert_valid_history(messages: list[Message]) -> None:
    """Every tool call has exactly one result, in the tool message right after it; JSON round trip keeps it."""
    for index, message in enumerate(messages):
        if message.tool_calls:
            after = messages[index + 1]
            assert after.role == "tool"
            assert sorted(r.call_id for r in after.tool_results) == sorted(c.id for c in message.tool_calls)
    results = [r.call_id for m in messages for r in m.tool_results]
    assert len(results) == len(set(results))
    assert load_messages(dump_messages(messages)) == messages
