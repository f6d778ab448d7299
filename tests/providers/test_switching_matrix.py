"""Switching provider mid-conversation: every (source, target) pair, both directions, over real SDKs.

For each source provider, its Podium model parses a turn in its own wire format (its own thinking with
signature or encrypted content, two parallel tool calls with ids in its style, the provider_details it
writes), answering a question with an image. The conversation (question + image, that turn, both tool
results, a follow-up) is then sent through each target's Podium model, whose official SDK posts it to a
loopback capture server (:mod:`switching_kit`). For every pair, with ``foreign_thinking`` ``drop`` and
``text``, the test checks:

1. the body the SDK sent validates against the SDK's own request types (:mod:`sdk_schemas`);
2. foreign thinking is dropped (or sent as ``<thinking>`` text), never its signature or encrypted
   content; same-provider thinking goes back verbatim in the provider's own reasoning slot;
3. tool calls and results pair up by id in the target's format, ids unique and of the shape the target
   accepts (kept when they already fit); the native Ollama API has no ids and pairs by tool name; the
   failed result is marked as failed (the target's error flag, or text starting with ``Error:``);
4. the image reaches the target, or (DeepSeek, which takes no images) the documented error is raised
   before anything is sent, and the rest of the conversation goes through without the image;
5. the target's answer parses back to a universal ModelResponse.

Around the pairs, per target: tool-call ids from several turns stay distinct and map the same way each
time; a foreign turn that held only thinking leaves no empty assistant message; an image in a tool result
and a PDF reach the target or fail with a clear error before anything is sent; and each SDK check rejects
a misplaced field (so a pass means something).

The rules are podium.providers.conversion's; docs/switching.md lists them with the result table.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from typing import Any

import pytest
from switching_kit import KITS, PNG, TOOLS, capture, conversation, exchange, secret, source_turn, thought

from podium.exceptions import UserError
from podium.messages import File, Image, Message, ModelResponse, Text, ToolCall, ToolResult
from podium.settings import ModelSettings

pytestmark = pytest.mark.filterwarnings("ignore::podium.providers.pricing.UnknownPriceWarning")

PROVIDERS = sorted(KITS)
_turns: dict[str, ModelResponse] = {}


def turn_of(source: str) -> ModelResponse:
    """The source's assistant turn, parsed once per test session."""
    if source not in _turns:
        _turns[source] = source_turn(KITS[source])
    return _turns[source]


def secrets_of(source: str) -> list[str]:
    """Signatures, encrypted reasoning and item ids of the source turn: they may go back to the source only."""
    kit = KITS[source]
    return ([secret(source)] if kit.signed else []) + list(kit.private)


def without_images(messages: list[Message]) -> list[Message]:
    """The conversation with its Image parts removed, as a user of a text-only target would send it."""
    return [dataclasses.replace(m, parts=[p for p in m.parts if not isinstance(p, Image)]) for m in messages]


# --------------------------------------------------------------------------- the source turns


@pytest.mark.parametrize("source", PROVIDERS)
def test_source_turn_is_what_the_provider_wrote(source: str) -> None:
    """The source's own model parses its turn: provider, ids in its style, its own (signed) thinking."""
    kit = KITS[source]
    turn = turn_of(source)
    assert turn.provider == source
    assert [(c.name, c.args) for c in turn.tool_calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"city": "Paris"}),
    ]
    if kit.call_ids is not None:
        assert tuple(c.id for c in turn.tool_calls) == kit.call_ids
    else:  # no ids on this wire: Podium made them, unique and stable
        ids = [c.id for c in turn.tool_calls]
        assert len(set(ids)) == 2
        assert ids == [c.id for c in source_turn(kit).tool_calls]
    if source == "openai":  # Chat Completions returns no reasoning
        assert turn.thinking == []
        return
    [thinking] = turn.thinking
    assert thinking.provider == source
    assert thinking.text == thought(source)
    if kit.signed:  # OpenRouter keeps its signed reasoning_details verbatim in provider_details
        kept = (thinking.signature, thinking.encrypted, json.dumps(thinking.provider_details))
        assert any(secret(source) in (value or "") for value in kept)
    else:
        assert thinking.signature is None and thinking.encrypted is None


# --------------------------------------------------------------------------- the matrix


def _check_thinking(source: str, target: str, foreign_thinking: str, body: dict[str, Any], turn: ModelResponse) -> None:
    kit = KITS[target]
    text = json.dumps(body, ensure_ascii=False)
    native = [s for s in kit.view.thinking(body) if s]
    as_text = json.dumps(f"<thinking>\n{thought(source)}\n</thinking>")[1:-1]
    secrets = secrets_of(source)
    if not turn.thinking:
        assert native == []
        assert "<thinking>" not in text
    elif kit.same_as(source):
        if "text" in kit.own_thinking:
            assert thought(source) in native, "own reasoning goes back in the provider's reasoning slot"
        if "secret" in kit.own_thinking:
            assert all(s in native or s in text for s in secrets), "signatures and encrypted content go back"
            assert secret(source) in native
        if not kit.own_thinking:  # documented: this API takes no reasoning back
            assert native == []
            assert thought(source) not in text
        assert as_text not in text, "own thinking is not turned into text"
    else:
        assert native == [], f"{source} reasoning must not reach {target}'s reasoning slot"
        for value in secrets:
            assert value not in text, f"{source}'s signature/encrypted content/item ids leaked to {target}"
        if foreign_thinking == "text":
            assert as_text in text, "foreign_thinking='text' sends the reasoning as text"
        else:
            assert thought(source) not in text, "foreign reasoning is dropped by default"


def _check_ids(source: str, target: str, body: dict[str, Any], turn: ModelResponse) -> None:
    kit = KITS[target]
    calls, results = kit.view.calls(body), kit.view.results(body)
    if target == "ollama":  # the native API has no call ids: results name their tool, in call order
        assert calls == [None, None]
        assert results == ["get_weather", "get_time"]
        return
    assert len(calls) == 2
    assert calls == results, "each result answers its call, by id, in the target's format"
    assert len(set(calls)) == 2
    for original, sent in zip((c.id for c in turn.tool_calls), calls, strict=True):
        assert sent is not None
        assert re.fullmatch(kit.id_pattern, sent), f"{target} rejects the id {sent!r}"
        if re.fullmatch(kit.id_pattern, original):
            assert sent == original, "an id the target accepts is kept"
        else:
            assert sent != original


@pytest.mark.parametrize("foreign_thinking", ["drop", "text"])
@pytest.mark.parametrize("target", PROVIDERS)
@pytest.mark.parametrize("source", PROVIDERS)
def test_conversation_continues_on(source: str, target: str, foreign_thinking: str) -> None:
    kit = KITS[target]
    turn = turn_of(source)
    history = conversation(turn)
    settings = ModelSettings(foreign_thinking=foreign_thinking)  # type: ignore[arg-type]
    if not kit.images:
        with capture(kit, kit.target_model, kit.target_reply) as server:
            model = kit.model(server.url, kit.target_model)
            with pytest.raises(UserError, match=rf"{target} takes no images.*remove the Image parts"):
                model.request(history, tools=TOOLS, settings=settings)
            assert server.received == [], "the error comes before anything is sent"
        history = without_images(history)
    response, body = exchange(kit, kit.target_model, kit.target_reply, history, settings=settings)
    # 1. valid for the target's SDK
    kit.validate(body, kit.target_model)
    # 2. thinking
    _check_thinking(source, target, foreign_thinking, body, turn)
    # 3. tool calls and results
    _check_ids(source, target, body, turn)
    assert kit.view.errors(body) == [False, True], "the failed result is marked as failed"
    if turn.text:
        assert json.dumps(turn.text)[1:-1] in json.dumps(body), "the source's text goes along"
    # 4. the image
    assert kit.view.images(body) == ([PNG] if kit.images else [])
    # 5. the answer
    assert isinstance(response, ModelResponse)
    assert response.text == f"OK from {target}"
    assert response.provider == target
    assert response.finish_reason == "stop"
    assert response.usage.input_tokens > 0


# --------------------------------------------------------------------------- ids across turns


def _turn(provider: str, *calls: ToolCall) -> list[Message]:
    results = [ToolResult(c.id, c.name, [Text("ok")]) for c in calls]
    return [Message("assistant", list(calls), provider=provider), Message("tool", results)]


@pytest.mark.parametrize("target", PROVIDERS)
def test_ids_stay_unique_and_map_the_same_way_across_turns(target: str) -> None:
    """Ids that only differ where a target's shape rule cuts them stay distinct, request after request."""
    kit = KITS[target]
    odd = ["call:1|a", "call:1|b", "call.2/a", "toolu_01A09q90qw90lq917835lq9", "toolu_01A09q90qw90lq917835lq8"]
    history = [Message.user("go")]
    for n, call_id in enumerate(odd):
        history += _turn("mistral" if n % 2 else "anthropic", ToolCall(call_id, "get_time", {"city": str(n)}))
    history.append(Message.user("done?"))
    _, first = exchange(kit, kit.target_model, kit.target_reply, history)
    _, second = exchange(kit, kit.target_model, kit.target_reply, history)
    kit.validate(first, kit.target_model)
    calls, results = kit.view.calls(first), kit.view.results(first)
    assert (calls, results) == (kit.view.calls(second), kit.view.results(second)), "the mapping is deterministic"
    if target == "ollama":
        assert results == ["get_time"] * len(odd)
        return
    assert calls == results
    assert len(set(calls)) == len(odd)
    assert all(re.fullmatch(kit.id_pattern, c or "") for c in calls)


def _roles(body: dict[str, Any]) -> list[str]:
    items = body.get("messages") or body.get("input") or body.get("contents") or []
    return [str(item.get("role")) for item in items]


@pytest.mark.parametrize("target", PROVIDERS)
def test_a_foreign_turn_of_only_thinking_is_left_out(target: str) -> None:
    """A turn cut off while thinking leaves nothing for another provider: no empty assistant message goes."""
    kit = KITS[target]
    source = "bedrock" if target == "anthropic" else "anthropic"
    cut = Message("assistant", turn_of(source).thinking, provider=source)
    history = [Message.user("What is the weather in Paris?"), cut, Message.user("Are you there?")]
    response, body = exchange(kit, kit.target_model, kit.target_reply, history)
    kit.validate(body, kit.target_model)
    roles = _roles(body)
    assert "assistant" not in roles and "model" not in roles
    assert thought(source) not in json.dumps(body)
    assert response.text == f"OK from {target}"


@pytest.mark.parametrize("target", PROVIDERS)
def test_each_sdk_check_rejects_a_misplaced_field(target: str) -> None:
    """The schema checks are strict: a field the SDK's types do not have fails, wherever it is."""
    kit = KITS[target]
    _, body = exchange(kit, kit.target_model, kit.target_reply, [Message.user("hi")])
    kit.validate(body, kit.target_model)
    items = body.get("messages") or body.get("input") or [p for c in body["contents"] for p in c["parts"]]
    items[0]["misplaced_field"] = "x"
    with pytest.raises((AssertionError, ValueError)):  # pydantic's ValidationError is a ValueError
        kit.validate(body, kit.target_model)


# --------------------------------------------------------------------------- media the target may not take

PDF = File(data=b"%PDF-1.4\n% a tiny document\n", media_type="application/pdf", filename="report.pdf")


def _media_cases() -> list[tuple[str, str, bool]]:
    cases = []
    for name, kit in sorted(KITS.items()):
        cases.append((name, "image in a tool result", kit.result_images))
        cases.append((name, "pdf in a user message", kit.pdfs))
    return cases


@pytest.mark.parametrize(("target", "case", "taken"), _media_cases())
def test_media_reach_the_target_or_fail_clearly(target: str, case: str, taken: bool) -> None:
    """Where the target takes the part, its bytes are in the valid body; else a clear error, nothing sent."""
    kit = KITS[target]
    call = ToolCall("call_Wx2nq8Jc4TtP0bPqYb1UoZ3k", "get_time", {"city": "Paris"})
    if case.startswith("image"):
        data, kind = PNG, "image"
        result = ToolResult(call.id, call.name, [Text("a photo of the clock:"), Image(PNG, media_type="image/png")])
        history = [
            Message.user("What time is it?"),
            Message("assistant", [call], provider="openai"),
            Message("tool", [result]),
        ]
    else:
        data, kind = PDF.data or b"", "application/pdf"
        history = [Message.user("Summarize this.", PDF)]
    if not taken:
        with capture(kit, kit.target_model, kit.target_reply) as server:
            with pytest.raises(UserError, match=kind):
                kit.model(server.url, kit.target_model).request(history, tools=TOOLS)
            assert server.received == []
        return
    response, body = exchange(kit, kit.target_model, kit.target_reply, history)
    kit.validate(body, kit.target_model)
    sent = json.dumps(body)
    assert base64.b64encode(data).decode() in sent or base64.urlsafe_b64encode(data).decode() in sent
    assert response.text == f"OK from {target}"
