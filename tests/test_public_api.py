"""The public API has no traps: strings where parts are expected, ToolCall ids, what `podium` exports."""

from __future__ import annotations

import pytest

import podium
from podium import Message, ModelResponse, Text, ToolCall, ToolResult


def test_a_string_is_one_text_part_everywhere_parts_are_taken() -> None:
    assert Message("user", "hello").parts == (Text("hello"),)
    assert Message("user", "hello").text == "hello"
    assert ModelResponse("hi").text == "hi"
    assert ModelResponse("hi").parts == (Text("hi"),)
    assert ToolResult("c1", "t", "done").content == (Text("done"),)
    assert Message("user", ["a", Text("b")]).parts == (Text("a"), Text("b"))
    assert Message("assistant", Text("x")).parts == (Text("x"),)  # a single part, not a sequence


@pytest.mark.parametrize("bad", [b"bytes", 42, {"text": "x"}, [1], [Text("a"), None]])
def test_what_is_not_a_part_is_refused_clearly(bad: object) -> None:
    with pytest.raises(TypeError, match="part"):
        Message("user", bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="part"):
        ModelResponse(bad)  # type: ignore[arg-type]


def test_tool_result_content_takes_only_content_parts() -> None:
    with pytest.raises(TypeError, match=r"ToolResult\.content"):
        ToolResult("c1", "t", [ToolCall(name="x")])  # type: ignore[list-item]


def test_tool_call_ids_are_generated_and_unique() -> None:
    calls = [ToolCall(name="search", args={"q": str(i)}) for i in range(1000)]
    ids = {c.id for c in calls}
    assert len(ids) == 1000
    assert all(i.startswith("call_") and len(i) == 29 for i in ids)
    assert ToolCall("given", "search", {}).id == "given"
    with pytest.raises(TypeError, match="JSON object"):
        ToolCall(name="search", args='{"q": 1}')  # type: ignore[arg-type]


def test_approval_retry_and_timeout_types_are_exported() -> None:
    for name in ("ApprovalPolicy", "Rule", "Allow", "Deny", "Ask", "PausedRun", "ApprovalRequest", "RetryPolicy"):
        assert name in podium.__all__
        assert getattr(podium, name).__name__ == name
    from podium.testing import call

    assert call("t", {"a": 1}) is not None


def test_scripted_calls_get_deterministic_ids() -> None:
    from podium import Agent, tool
    from podium.testing import ScriptedModel, call

    @tool
    def ping() -> str:
        """Ping."""
        return "pong"

    ids = []
    for _ in range(2):
        result = Agent(ScriptedModel([[call("ping"), call("ping")], "done"]), tools=[ping]).run("go")
        ids.append([c.id for m in result.messages for c in m.tool_calls])
    assert ids[0] == ids[1] and len(set(ids[0])) == 2
