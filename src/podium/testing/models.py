"""Models for tests: replay scripted responses or compute them with a function. No network."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeAlias

from typing_extensions import Unpack, override

from podium.exceptions import UserError
from podium.messages import Message, ModelResponse, Part, Text, Thinking, ToolCall, ToolResult
from podium.providers.base import Model, RequestOptions, deltas_of
from podium.providers.profiles import ModelProfile
from podium.settings import ModelSettings, OutputSchema, ToolDefinition
from podium.streaming import StreamEvent, TextDelta
from podium.usage import Usage, stored_cost

__all__ = ["AgentInfo", "FunctionModel", "Scripted", "ScriptedModel", "call", "make_test_model"]

Scripted: TypeAlias = "ModelResponse | Sequence[Part] | str"
"""One scripted reply: a whole response, a list of parts, or plain text."""


_NUMBERED = "call_to_be_numbered"
"""The id :func:`call` gives when none is asked for; the test models replace it with a numbered one."""


def call(name: str, args: dict[str, Any] | None = None, *, id: str = "") -> ToolCall:
    """A tool call for scripts; without ``id`` the test model numbers it (``call_<model>_<n>``, deterministic)."""
    return ToolCall(id or _NUMBERED, name, args or {})


@dataclass(frozen=True, slots=True)
class AgentInfo:
    """What a request carried besides the messages (given to ``FunctionModel`` functions)."""

    tools: Sequence[ToolDefinition] = ()
    """Tools offered."""
    settings: ModelSettings = field(default_factory=ModelSettings)
    """Settings of the request."""
    output: OutputSchema | None = None
    """Native output schema, if any."""
    step: int = 0
    """Number of requests this model has answered before this one."""


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4) if text else 0


def _tool_tokens(message: Message) -> int:
    """Tokens of a message's tool calls and results (their text), so test usage covers the whole prompt."""
    total = 0
    for part in message.parts:
        if isinstance(part, ToolResult):
            total += _estimate_tokens(part.text) + 4
        elif isinstance(part, ToolCall):
            total += _estimate_tokens(part.args_json) + 4
    return total


class _TestModel(Model):
    """Shared plumbing: normalizing replies, ids, usage, recording requests, streaming."""

    def __init__(
        self,
        *,
        model_name: str,
        provider: str,
        profile: ModelProfile | None,
        stream_chunk: int,
        summaries: Literal["auto", "ask"] = "auto",
    ) -> None:
        self.summaries = summaries
        self.summary_requests: list[list[Message]] = []
        """Compaction summary requests answered by the model itself (``summaries="auto"``)."""
        self.model_name = model_name
        self.provider = provider
        self._profile = profile or ModelProfile(vision=True, files=True, thinking=True, structured_output=False)
        self.stream_chunk = stream_chunk
        self.requests: list[tuple[list[Message], AgentInfo]] = []
        """Every request received: the messages and the rest."""
        self._lock = threading.Lock()
        self._ids = 0

    @property
    @override
    def profile(self) -> ModelProfile:
        return self._profile

    def _reply(self, messages: list[Message], info: AgentInfo) -> Scripted:
        raise NotImplementedError

    def _normalize(self, reply: Scripted, messages: Sequence[Message]) -> ModelResponse:
        if isinstance(reply, str):
            response = ModelResponse((Text(reply),))
        elif isinstance(reply, ModelResponse):
            response = reply
        else:
            response = ModelResponse(tuple(reply))
        parts: list[Part] = []
        for part in response.parts:
            if isinstance(part, ToolCall) and part.id == _NUMBERED:
                with self._lock:
                    self._ids += 1
                    part = replace(part, id=f"call_{self.model_name}_{self._ids}")
            parts.append(part)
        finish = response.finish_reason or ("tool_calls" if any(isinstance(p, ToolCall) for p in parts) else "stop")
        usage = response.usage
        if usage == Usage():
            prompt = sum(_estimate_tokens(m.text) + 4 + _tool_tokens(m) for m in messages)
            out = sum(_estimate_tokens(p.text) for p in parts if isinstance(p, Text))
            out += sum(_estimate_tokens(p.args_json) for p in parts if isinstance(p, ToolCall))
            usage = Usage(input_tokens=prompt, output_tokens=out, requests=1)
        return replace(
            response,
            cost=stored_cost(response),  # a deferred cost stays deferred
            parts=tuple(parts),
            model=response.model or self.model_name,
            provider=response.provider or self.provider,
            finish_reason=finish,
            usage=usage,
        )

    def _answer(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolDefinition] | None,
        settings: ModelSettings | None,
        output: OutputSchema | None,
    ) -> ModelResponse:
        msgs = list(messages)
        if self.summaries == "auto" and _is_summary_request(settings):
            with self._lock:
                self.summary_requests.append(msgs)
            return self._normalize(_test_summary(msgs), msgs)
        with self._lock:
            info = AgentInfo(tuple(tools or ()), settings or ModelSettings(), output, len(self.requests))
            self.requests.append((msgs, info))
        return self._normalize(self._reply(msgs, info), msgs)

    @override
    def request(self, messages: Sequence[Message], **options: Unpack[RequestOptions]) -> ModelResponse:
        return self._answer(messages, options.get("tools"), options.get("settings"), options.get("output"))

    @override
    def stream(self, messages: Sequence[Message], **options: Unpack[RequestOptions]) -> Iterator[StreamEvent]:
        response = self._answer(messages, options.get("tools"), options.get("settings"), options.get("output"))
        yield from deltas_of(response, self.stream_chunk)
        yield response

    @override
    async def arequest(self, messages: Sequence[Message], **options: Unpack[RequestOptions]) -> ModelResponse:
        return self._answer(messages, options.get("tools"), options.get("settings"), options.get("output"))

    @override
    async def astream(
        self, messages: Sequence[Message], **options: Unpack[RequestOptions]
    ) -> AsyncIterator[StreamEvent]:
        response = self._answer(messages, options.get("tools"), options.get("settings"), options.get("output"))
        for delta in deltas_of(response, self.stream_chunk):
            yield delta
        yield response


class ScriptedModel(_TestModel):
    """Answers each request with the next scripted reply.

    Each reply is a :class:`~podium.messages.ModelResponse`, a list of parts, or a plain string (a text
    reply). Tool calls without ids get generated ones. Streaming replays the parts as deltas (text in
    pieces of ``stream_chunk`` characters). ``requests`` records what the model received.

    Example::

        model = ScriptedModel([[call("add", {"a": 1, "b": 2})], "The answer is 3."])
    """

    def __init__(
        self,
        responses: Sequence[Scripted],
        *,
        model_name: str = "scripted",
        provider: str = "test",
        profile: ModelProfile | None = None,
        stream_chunk: int = 4,
        summaries: Literal["auto", "ask"] = "auto",
    ) -> None:
        """Script the replies, in order.

        ``summaries="auto"``: the loop's compaction summary requests are answered with a generated summary
        (kept in ``summary_requests``) and consume no scripted reply; ``"ask"``: they are replies like any.
        """
        super().__init__(
            model_name=model_name, provider=provider, profile=profile, stream_chunk=stream_chunk, summaries=summaries
        )
        self.responses = list(responses)

    def _reply(self, messages: list[Message], info: AgentInfo) -> Scripted:
        if info.step >= len(self.responses):
            raise UserError(
                f"ScriptedModel has {len(self.responses)} scripted responses and got request {info.step + 1}; "
                "script more responses"
            )
        return self.responses[info.step]


class FunctionModel(_TestModel):
    """Computes each reply with ``fn(messages, info)`` (a response, parts, or text)."""

    def __init__(
        self,
        fn: Callable[[list[Message], AgentInfo], Scripted],
        *,
        model_name: str = "function",
        provider: str = "test",
        profile: ModelProfile | None = None,
        stream_chunk: int = 4,
        summaries: Literal["auto", "ask"] = "auto",
    ) -> None:
        """Use ``fn`` to answer requests.

        ``summaries="auto"``: the loop's compaction summary requests are answered with a generated summary
        (kept in ``summary_requests``) without calling ``fn``; ``"ask"``: ``fn`` answers them too.
        """
        super().__init__(
            model_name=model_name, provider=provider, profile=profile, stream_chunk=stream_chunk, summaries=summaries
        )
        self.fn = fn

    def _reply(self, messages: list[Message], info: AgentInfo) -> Scripted:
        return self.fn(messages, info)


def _is_summary_request(settings: ModelSettings | None) -> bool:
    """Whether the agent loop asks for a compaction summary (it marks those settings)."""
    podium = settings.extra.get("podium") if settings is not None else None
    return isinstance(podium, Mapping) and podium.get("purpose") == "compaction"


def _test_summary(messages: list[Message]) -> str:
    """A short, deterministic stand-in for a summary of the transcript in ``messages``."""
    text = messages[-1].text if messages else ""
    return f"(test summary of {len(text):,} characters) It began: {text[:160]}"


def _echo(messages: list[Message], info: AgentInfo) -> str:
    for message in reversed(messages):
        if message.role == "user":
            return message.text
    return ""


class SlowEchoModel(FunctionModel):
    """Repeats the last user message one word per ``delay`` seconds (for interrupt tests)."""

    def __init__(self, delay: float = 0.3) -> None:
        super().__init__(lambda m, i: "You said: " + _echo(m, i), model_name="slow", stream_chunk=0)
        self.delay = delay

    @override
    def stream(self, messages: Sequence[Message], **options: Unpack[RequestOptions]) -> Iterator[StreamEvent]:
        import time

        response = self._answer(messages, options.get("tools"), options.get("settings"), options.get("output"))
        for word in response.text.split(" "):
            time.sleep(self.delay)
            yield TextDelta(0, word + " ")
        yield replace(response, parts=(Text(response.text + " "),))


def _describe(messages: list[Message], info: AgentInfo) -> str:
    """What the last user message holds, part by part (to check what reached the model)."""
    from podium.messages import File, Image

    for message in reversed(messages):
        if message.role == "user":
            kinds = []
            for part in message.parts:
                if isinstance(part, (Image, File)):
                    kinds.append(f"{part.type} {part.media_type} {len(part.data or b'')} bytes")
                elif isinstance(part, Text):
                    kinds.append(f"text {part.text!r}")
            return "I got: " + "; ".join(kinds)
    return "I got nothing"


def _instructions(messages: list[Message], info: AgentInfo) -> str:
    return "\n".join(m.text for m in messages if m.role == "system") or "(no instructions)"


def make_test_model(name: str, **options: Any) -> Model:
    """Test models by name.

    ``test:echo`` repeats the last user message; ``test:slow`` does it slowly; ``test:instructions`` answers
    with the instructions (system messages) it received; ``test:describe`` lists the parts of the last user
    message (text, images and files with their type and size); ``test:scripted:FILE`` replays a script, one
    reply per request it gets; ``test:history:FILE`` picks the reply by how many assistant messages the request
    holds, so another process (a resumed run) goes on with the same script.
    """
    if name in ("", "echo"):
        return FunctionModel(_echo, model_name="echo")
    if name == "instructions":
        return FunctionModel(_instructions, model_name="instructions")
    if name == "describe":
        return FunctionModel(_describe, model_name="describe")
    if name == "slow":
        return SlowEchoModel(float(options.get("delay", 0.3)))
    if name.startswith("scripted:"):
        return scripted_from_file(name.removeprefix("scripted:"))
    if name.startswith("history:"):
        return by_history(scripted_from_file(name.removeprefix("history:")).responses, model_name="history")
    raise UserError(
        f"unknown test model {name!r}; available: test:echo, test:slow, test:instructions, test:describe, "
        "test:scripted:/path/to/script.json, test:history:/path/to/script.json"
    )


def by_history(replies: Sequence[Scripted], *, model_name: str = "history") -> FunctionModel:
    """A model answering reply ``n`` to a request holding ``n`` assistant messages (it keeps no state)."""
    script = list(replies)

    def reply(messages: list[Message], info: AgentInfo) -> Scripted:
        turn = sum(1 for m in messages if m.role == "assistant")
        if turn >= len(script):
            raise UserError(f"the model script has {len(script)} replies and the conversation is at turn {turn + 1}")
        return script[turn]

    return FunctionModel(reply, model_name=model_name)


def scripted_from_file(path: str) -> ScriptedModel:
    """A :class:`ScriptedModel` from a JSON file (for driving the CLI in tests).

    The file holds a list; each item is a text reply, or ``{"thinking": ..., "text": ..., "calls": [{"name": ...,
    "args": {...}}]}`` (every key optional).
    """
    import json
    from pathlib import Path

    try:
        items = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read the model script {path}: {exc}") from exc
    if not isinstance(items, list):
        raise UserError(f"the model script {path} must hold a JSON list")
    replies: list[Scripted] = []
    for item in items:
        if isinstance(item, str):
            replies.append(item)
        elif isinstance(item, dict):
            parts: list[Part] = [Thinking(item["thinking"])] if item.get("thinking") else []
            parts += [Text(item["text"])] if item.get("text") else []
            parts += [ToolCall(c.get("id", ""), c["name"], c.get("args", {})) for c in item.get("calls", [])]
            replies.append(parts)
        else:
            raise UserError(f"bad item in the model script {path}: {item!r}")
    return ScriptedModel(replies, model_name="scripted")
