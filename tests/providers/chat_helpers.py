"""Helpers for the Chat Completions provider tests (OpenAI, OpenAI-compatible presets, Groq)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from podium.messages import ModelResponse
from podium.settings import ToolDefinition
from podium.streaming import StreamEvent, TextDelta, ThinkingDelta, ToolCallDelta
from podium.testing.cassette import Cassette, Interaction, RecordedRequest, ReplayServer, normalize

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"

MISSING: Any = type("MISSING", (), {"__repr__": lambda self: "MISSING"})()
"""Marks a key that is absent on one side of a listed request difference."""


def cassette(provider: str, name: str) -> Path:
    path = CASSETTES / provider / name
    assert path.exists(), path
    return path


def recorded_tools(body: Mapping[str, Any]) -> list[ToolDefinition]:
    """The tool definitions of a recorded request, as Podium ``ToolDefinition`` s."""
    tools = []
    for item in body.get("tools", []):
        fn = item["function"]
        tools.append(ToolDefinition(fn["name"], fn.get("description", ""), fn["parameters"], strict=fn.get("strict")))
    return tools


def _walk(doc: Any, path: Sequence[Any]) -> tuple[Any, Any]:
    for key in path[:-1]:
        doc = doc[key]
    return doc, path[-1]


def _get(doc: Any, path: Sequence[Any]) -> Any:
    parent, key = _walk(doc, path)
    if isinstance(parent, dict):
        return parent.get(key, MISSING)
    return parent[key]


def _drop(doc: Any, path: Sequence[Any]) -> None:
    parent, key = _walk(doc, path)
    if isinstance(parent, dict):
        parent.pop(key, None)


def assert_same_request(
    sent: Any, recorded: Any, differences: Mapping[tuple[Any, ...], tuple[Any, Any]] | None = None
) -> None:
    """``sent`` equals ``recorded`` as parsed JSON (after ``normalize``), except the listed differences.

    ``differences`` maps a JSON path to ``(what Podium sends, what the recording framework sent)``; both
    values are checked, then the key is removed from both sides before the whole bodies are compared.
    """
    ours = copy.deepcopy(normalize(sent))
    theirs = copy.deepcopy(normalize(recorded))
    for path, (mine, recorder) in (differences or {}).items():
        assert _get(ours, path) == mine, f"Podium sent {_get(ours, path)!r} at {path}, expected {mine!r}"
        assert _get(theirs, path) == recorder, f"recorded {_get(theirs, path)!r} at {path}, listed {recorder!r}"
        _drop(ours, path)
        _drop(theirs, path)
    assert ours == theirs


@contextmanager
def replay(path: Path, **kwargs: Any) -> Iterator[ReplayServer]:
    """A replay server for ``path`` that must have served every interaction at the end."""
    with ReplayServer(path, **kwargs) as server:
        yield server
        assert server.unplayed == [], f"{len(server.unplayed)} recorded interactions were not requested"


def fake_server(*responses: tuple[int, str, bytes], path: str = "/v1/chat/completions") -> ReplayServer:
    """A replay server over made-up responses ``(status, content_type, body)``, served in order."""
    request = RecordedRequest("POST", "http://fake" + path, path, {}, None)
    interactions = [Interaction(request, status, {"content-type": ctype}, body) for status, ctype, body in responses]
    return ReplayServer(Cassette(Path("fake.yaml"), interactions))


def completion_to_sse(data: Mapping[str, Any], pieces: int = 3) -> bytes:
    """A Chat Completions response re-cut as the SSE stream a server would send for the same content."""
    meta = {k: v for k, v in data.items() if k not in ("choices", "usage", "object")}
    choice = data["choices"][0]
    message = choice["message"]
    extras = {k: v for k, v in choice.items() if k not in ("index", "message", "finish_reason", "logprobs")}
    chunks: list[dict[str, Any]] = []

    def chunk(delta: dict[str, Any], finish: str | None = None) -> None:
        chunks.append(
            {
                **meta,
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish, **extras}],
            }
        )

    def split(text: str) -> list[str]:
        size = max(1, -(-len(text) // pieces))
        return [text[i : i + size] for i in range(0, len(text), size)]

    chunk({"role": "assistant", "content": ""})
    for field in ("reasoning_content", "reasoning"):
        if message.get(field):
            for piece in split(message[field]):
                chunk({field: piece})
    if message.get("reasoning_details"):
        chunk({"reasoning_details": message["reasoning_details"]})
    if message.get("content"):
        for piece in split(message["content"]):
            chunk({"content": piece})
    for index, call in enumerate(message.get("tool_calls") or []):
        fn = call["function"]
        first = {
            "index": index,
            "id": call["id"],
            "type": "function",
            "function": {"name": fn["name"], "arguments": ""},
        }
        chunk({"tool_calls": [first]})
        for piece in split(fn["arguments"]):
            chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    chunk({}, choice["finish_reason"])
    if data.get("usage"):
        chunks.append({**meta, "object": "chat.completion.chunk", "choices": [], "usage": data["usage"]})
    lines = [f"data: {json.dumps(c)}\n\n" for c in chunks]
    return ("".join(lines) + "data: [DONE]\n\n").encode()


def collect(events: Sequence[StreamEvent]) -> tuple[list[TextDelta | ThinkingDelta | ToolCallDelta], ModelResponse]:
    """Split a stream's events into its deltas and its final response (checking there is exactly one)."""
    *deltas, final = events
    assert isinstance(final, ModelResponse)
    assert not any(isinstance(d, ModelResponse) for d in deltas)
    return list(deltas), final  # type: ignore[arg-type]


def interaction_json(server: ReplayServer, index: int) -> Any:
    """The recorded response body of interaction ``index`` as JSON."""
    return server.interactions[index].json


def recorded_body(server: ReplayServer, index: int) -> Any:
    """The recorded request body of interaction ``index``."""
    return server.interactions[index].request.body
