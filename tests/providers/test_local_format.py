"""Parsing small models' tool calls and building their prompts (pure; no model needed)."""

from __future__ import annotations

import pytest

from podium.messages import Message, Text, ToolCall, ToolResult
from podium.providers.local_format import parse_tool_calls, resolve_name, template_knows_tools, to_chat_messages
from podium.settings import ToolDefinition

TOOLS = [
    ToolDefinition("get_weather", "Weather.", {"type": "object", "properties": {"city": {"type": "string"}}}),
    ToolDefinition("add", "Add.", {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}}),
    ToolDefinition("search_web", "Search.", {"type": "object", "properties": {"query": {"type": "string"}}}),
]


@pytest.mark.parametrize(
    ("text", "calls", "rest"),
    [
        (
            '<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call>',
            [("add", {"a": 1, "b": 2}, None)],
            "",
        ),
        (
            'Sure.\n<tool_call>{"name": "add", "arguments": {"a": 1, "b": 2}}</tool_call>\n'
            '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>',
            [("add", {"a": 1, "b": 2}, None), ("get_weather", {"city": "Oslo"}, None)],
            "Sure.",
        ),
        (
            '<tool_call>[{"name": "add", "arguments": {"a": 1, "b": 2}}]</tool_call>',
            [("add", {"a": 1, "b": 2}, None)],
            "",
        ),
        (
            '```json\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```',
            [("get_weather", {"city": "Paris"}, None)],
            "",
        ),
        ('{"name": "get_weather", "parameters": {"city": "Rome"}}', [("get_weather", {"city": "Rome"}, None)], ""),
        ('{"name": "add", "arguments": "{\\"a\\": 2, \\"b\\": 3}"}', [("add", {"a": 2, "b": 3}, None)], ""),
        (
            '<tool_call>{"name": "add", "arguments": {"a": 1,</tool_call>',
            [("add", None, '{"name": "add", "arguments": {"a": 1,')],
            "",
        ),
        ('{"name": "weather", "arguments": {"city": "Oslo"}}', [("get_weather", {"city": "Oslo"}, None)], ""),
        ('{"name": "find_stuff", "arguments": {"query": "x"}}', [("search_web", {"query": "x"}, None)], ""),
        ('{"name": "teleport", "arguments": {"to": "Mars"}}', [("teleport", {"to": "Mars"}, None)], ""),
        ("The capital of France is Paris.", [], "The capital of France is Paris."),
        ('{"name": "Ada", "age": 3}', [], '{"name": "Ada", "age": 3}'),
    ],
)
def test_parse_tool_calls(text: str, calls: list, rest: str) -> None:
    got_rest, got = parse_tool_calls(text, TOOLS)
    assert got == calls
    assert got_rest == rest


def test_no_tools_means_no_parsing() -> None:
    assert parse_tool_calls('{"name": "add", "arguments": {}}', []) == ('{"name": "add", "arguments": {}}', [])


def test_name_resolution_is_conservative() -> None:
    tools = {"read_file": frozenset({"path"}), "write_file": frozenset({"path", "content"})}
    assert resolve_name("file", {"path": "x"}, tools) == "file"  # ambiguous: kept, the loop reports it
    assert resolve_name("write", None, tools) == "write_file"
    assert resolve_name("save", {"path": "a", "content": "b"}, tools) == "write_file"


def test_prompt_for_templates_without_tools() -> None:
    history = [
        Message.system("Be brief."),
        Message.user("weather?"),
        Message.assistant(ToolCall("c1", "get_weather", {"city": "Oslo"})),
        Message("tool", (ToolResult("c1", "get_weather", (Text("sunny"),)),)),
    ]
    chat = to_chat_messages(history, TOOLS, native_tools=False)
    assert chat[0]["role"] == "system"
    assert chat[0]["content"].startswith("Be brief.\n\nYou can call these tools:")
    assert "- get_weather(city: string): Weather." in chat[0]["content"]
    examples = chat[1:7]
    assert [m["role"] for m in examples] == ["user", "assistant"] * 3
    assert examples[1]["content"] == '{"name": "get_weather", "arguments": {"city": "Rome"}}'
    assert chat[-3] == {"role": "user", "content": "weather?"}
    assert chat[-2]["content"] == '```json\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n```'
    assert chat[-1] == {"role": "user", "content": "Tool get_weather result:\nsunny"}


def test_prompt_for_native_templates() -> None:
    history = [
        Message.user("weather?"),
        Message.assistant(ToolCall("c1", "get_weather", {"city": "Oslo"})),
        Message("tool", (ToolResult("c1", "get_weather", (Text("sunny"),)),)),
    ]
    chat = to_chat_messages(history, TOOLS, native_tools=True)
    assert chat[1]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": {"city": "Oslo"}}
    assert chat[2] == {"role": "tool", "content": "sunny", "tool_call_id": "c1", "name": "get_weather"}
    qwen_like = "{% if tools %}<tools>{{ tools }}</tools>{% endif %}<tool_call>"
    assert template_knows_tools(qwen_like)
    assert not template_knows_tools("{% for m in messages %}<|im_start|>{{ m.role }}{% endfor %}")
