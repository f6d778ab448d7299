"""Universal messages: construction rules and versioned JSON round trips (property-tested)."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podium.exceptions import SerializationError
from podium.messages import (
    FORMAT_VERSION,
    CachePoint,
    File,
    Image,
    Message,
    ModelResponse,
    ProviderPart,
    Text,
    Thinking,
    ToolCall,
    ToolResult,
    dump_messages,
    load_messages,
)
from podium.usage import Usage
from tests.conftest import examples

json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
json_objects = st.dictionaries(st.text(max_size=8), json_values, max_size=4)
opt_details = st.none() | json_objects
opt_text = st.none() | st.text(max_size=30)
media_types = st.sampled_from(["image/png", "image/jpeg", "application/pdf", "audio/wav", "text/plain"])


@st.composite
def media(draw: st.DrawFn, cls: type[Image] | type[File]) -> Image | File:
    if draw(st.booleans()):
        kwargs = {"data": draw(st.binary(max_size=40)), "media_type": draw(media_types)}
    else:
        kwargs = {"url": draw(st.text(min_size=1, max_size=30)), "media_type": draw(st.none() | media_types)}
    kwargs["provider_details"] = draw(opt_details)
    if cls is File:
        kwargs["filename"] = draw(opt_text)
    return cls(**kwargs)


texts = st.builds(Text, st.text(max_size=50), opt_details)
content_parts = texts | media(Image) | media(File)
parts = (
    content_parts
    | st.builds(Thinking, st.text(max_size=30), opt_text, opt_text, opt_text, opt_text, opt_details)
    | st.builds(
        ToolCall,
        st.text(min_size=1, max_size=10),
        st.text(min_size=1, max_size=10),
        json_objects,
        opt_text,
        opt_details,
    )
    | st.builds(
        ToolResult,
        st.text(min_size=1, max_size=10),
        st.text(max_size=10),
        st.lists(content_parts, max_size=3),
        st.booleans(),
        st.booleans(),
        opt_details,
    )
    | st.builds(ProviderPart, st.text(min_size=1, max_size=10), json_objects)
    | st.builds(CachePoint, st.none() | st.sampled_from(["5m", "1h"]))
)
counts = st.integers(0, 10**9)
usages = st.builds(
    Usage, counts, counts, counts, counts, counts, counts, st.dictionaries(st.text(max_size=8), counts, max_size=3)
)
messages = st.builds(
    Message,
    st.sampled_from(["system", "user", "assistant", "tool"]),
    st.lists(parts, max_size=5),
    provider=opt_text,
    model=opt_text,
    finish_reason=st.none() | st.sampled_from(["stop", "length", "tool_calls", "content_filter", "error", "cancelled"]),
    usage=st.none() | usages,
    cost=st.none() | st.floats(min_value=0, max_value=1e6, allow_nan=False),
    provider_details=opt_details,
)


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(messages, max_size=6))
def test_messages_round_trip_every_field(conversation: list[Message]) -> None:
    text = dump_messages(conversation)
    assert load_messages(text) == conversation
    # and the JSON is plain JSON (no NaN, bytes are base64 strings)
    assert json.loads(text)["version"] == FORMAT_VERSION


@settings(max_examples=examples(100), deadline=None)
@given(st.lists(parts, max_size=5), usages, st.none() | st.floats(0, 100, allow_nan=False), opt_details)
def test_model_response_round_trip(ps: list, usage: Usage, cost: float | None, details: dict | None) -> None:
    response = ModelResponse(
        ps, model="m", provider="p", finish_reason="stop", usage=usage, cost=cost, provider_details=details
    )
    assert ModelResponse.from_dict(json.loads(json.dumps(response.to_dict()))) == response


def test_bytes_are_base64_and_exact() -> None:
    data = bytes(range(256))
    [msg] = load_messages(dump_messages([Message.user(Image(data=data, media_type="image/png"))]))
    part = msg.parts[0]
    assert isinstance(part, Image)
    assert part.data == data


def test_unknown_version_is_a_clear_error() -> None:
    with pytest.raises(SerializationError, match=r"unknown format version 99.*reads version 1"):
        load_messages('{"version": 99, "messages": []}')


def test_missing_version() -> None:
    with pytest.raises(SerializationError, match="missing 'version'"):
        load_messages('{"messages": []}')


@pytest.mark.parametrize(
    ("doc", "where"),
    [
        ('{"version": 1, "messages": [{"role": "robot", "parts": []}]}', r"messages\[0\].role: unknown role 'robot'"),
        (
            '{"version": 1, "messages": [{"role": "user", "parts": [{"type": "gif"}]}]}',
            r"messages\[0\].parts\[0\].type",
        ),
        (
            '{"version": 1, "messages": [{"role": "user", "parts": [{"type": "text"}]}]}',
            r"parts\[0\].text: expected a string",
        ),
        (
            '{"version": 1, "messages": [{"role": "user", "parts": [{"type": "image", "data": "!!"}]}]}',
            r"parts\[0\].data: not valid base64",
        ),
        (
            '{"version": 1, "messages": [{"role": "user", "parts": [{"type": "image"}]}]}',
            r"parts\[0\]: Image needs exactly one of data",
        ),
        ('{"version": 1, "messages": [{"role": "user", "parts": [], "usage": {"input_tokens": "x"}}]}', r"usage"),
        ('{"version": 1, "messages": [{"role": "user", "parts": [], "color": 1}]}', r"unknown fields \['color'\]"),
        ('{"version": 1, "messages": {}}', r"messages: expected a list"),
        ("not json", r"not JSON"),
        (
            '{"version": 1, "messages": [{"role": "tool", "parts": [{"type": "tool_result", "call_id": "a",'
            ' "name": "t", "content": [{"type": "tool_call", "id": "x", "name": "y", "args": {}}]}]}]}',
            r"content\[0\]: tool results hold text, image or file parts only",
        ),
    ],
)
def test_malformed_data_names_the_bad_field(doc: str, where: str) -> None:
    with pytest.raises(SerializationError, match=where):
        load_messages(doc)


def test_media_needs_exactly_one_source_and_a_media_type() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Image()
    with pytest.raises(ValueError, match="media_type"):
        Image(data=b"x")
    with pytest.raises(TypeError, match="decode base64"):
        File(data="aGVsbG8=", media_type="text/plain")  # type: ignore[arg-type]


def test_lists_become_tuples_and_helpers() -> None:
    msg = Message("assistant", [Text("a"), ToolCall("1", "f", {"x": 1}), Text("b")])
    assert isinstance(msg.parts, tuple)
    assert msg.text == "ab"
    assert [c.name for c in msg.tool_calls] == ["f"]
    assert Message.user("hi", Text("!")).text == "hi!"


def test_tool_call_args_json_prefers_raw() -> None:
    assert ToolCall("1", "f", {}, raw_args="{bad").args_json == "{bad"
    assert json.loads(ToolCall("1", "f", {"a": [1]}).args_json) == {"a": [1]}


def test_thinking_redacted_flag() -> None:
    assert Thinking(encrypted="xyz").redacted
    assert not Thinking("visible", encrypted="xyz").redacted


def test_usage_adds_and_merges_details() -> None:
    a = Usage(1, 2, 3, 4, 5, 1, {"audio": 2})
    b = Usage(10, 20, 30, 40, 50, 1, {"audio": 1, "web": 1})
    total = a + b
    assert total == Usage(11, 22, 33, 44, 55, 2, {"audio": 3, "web": 1})
    assert total.total_tokens == 33
    assert sum([a, b], Usage()) == total
    assert not math.isnan(float(total.input_tokens))
