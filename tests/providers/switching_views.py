"""Where each wire format keeps tool calls, tool results, reasoning and images (for the switching matrix).

A :class:`BodyView` reads a request body as the vendor SDK sent it; :mod:`switching_kit` gives one to
each provider.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

JsonDict = dict[str, Any]

__all__ = ["ANTHROPIC_VIEW", "BEDROCK_VIEW", "GOOGLE_VIEW", "OLLAMA_VIEW", "RESPONSES_VIEW", "BodyView", "chat_view"]


def _images_from_urls(urls: list[str]) -> list[bytes]:
    out = []
    for url in urls:
        assert url.startswith("data:image/png;base64,"), url[:40]
        out.append(base64.b64decode(url.split(",", 1)[1]))
    return out


@dataclass(frozen=True)
class BodyView:
    """Where one wire format keeps tool calls, results, thinking and images."""

    calls: Callable[[JsonDict], list[str | None]]
    """Tool-call ids, in order (``None`` where the format has no ids)."""
    results: Callable[[JsonDict], list[str | None]]
    """The ids the tool results answer, in order (tool names where the format has no ids)."""
    thinking: Callable[[JsonDict], list[str]]
    """Every string in the format's native reasoning slots (texts, signatures, encrypted content)."""
    images: Callable[[JsonDict], list[bytes]]
    """The image bytes found in user content."""
    errors: Callable[[JsonDict], list[bool]]
    """For each tool result, whether it is marked as failed (the flag, or text starting with ``Error``)."""


def _chat_messages(body: JsonDict) -> list[JsonDict]:
    return list(body["messages"])


def chat_view(reasoning_keys: tuple[str, ...]) -> BodyView:
    def thinking(body: JsonDict) -> list[str]:
        out: list[str] = []
        for m in _chat_messages(body):
            for key in reasoning_keys:
                value = m.get(key)
                if isinstance(value, str):
                    out.append(value)
                elif isinstance(value, list):  # reasoning_details
                    out.extend(str(v) for item in value for v in item.values() if isinstance(v, str))
            for chunk in m.get("content") if isinstance(m.get("content"), list) else ():
                if chunk.get("type") == "thinking":  # Mistral, Cohere
                    inner = chunk["thinking"]
                    out.extend([inner] if isinstance(inner, str) else [c["text"] for c in inner])
                    if chunk.get("signature"):
                        out.append(chunk["signature"])
        return out

    def images(body: JsonDict) -> list[bytes]:
        urls = []
        for m in _chat_messages(body):
            for chunk in m.get("content") if isinstance(m.get("content"), list) else ():
                if chunk.get("type") == "image_url":
                    image = chunk["image_url"]
                    urls.append(image if isinstance(image, str) else image["url"])
        return _images_from_urls(urls)

    return BodyView(
        calls=lambda b: [c["id"] for m in _chat_messages(b) for c in m.get("tool_calls") or ()],
        results=lambda b: [m["tool_call_id"] for m in _chat_messages(b) if m["role"] == "tool"],
        thinking=thinking,
        images=images,
        errors=_text_errors,
    )


def _text_errors(body: JsonDict) -> list[bool]:
    return [m["content"].startswith("Error") for m in body["messages"] if m["role"] == "tool"]


def _responses_thinking(body: JsonDict) -> list[str]:
    out: list[str] = []
    for item in body["input"]:
        if item.get("type") == "reasoning":
            out.extend(s["text"] for s in item.get("summary", ()))
            if item.get("encrypted_content"):
                out.append(item["encrypted_content"])
    return out


RESPONSES_VIEW = BodyView(
    calls=lambda b: [i["call_id"] for i in b["input"] if i.get("type") == "function_call"],
    results=lambda b: [i["call_id"] for i in b["input"] if i.get("type") == "function_call_output"],
    thinking=_responses_thinking,
    images=lambda b: _images_from_urls(
        [
            c["image_url"]
            for i in b["input"]
            if i.get("role") == "user" and isinstance(i.get("content"), list)
            for c in i["content"]
            if c["type"] == "input_image"
        ]
    ),
    errors=lambda b: [i["output"].startswith("Error") for i in b["input"] if i.get("type") == "function_call_output"],
)


def _blocks(body: JsonDict) -> list[JsonDict]:
    return [b for m in body["messages"] for b in m["content"] if isinstance(m["content"], list)]


def _anthropic_thinking(body: JsonDict) -> list[str]:
    out: list[str] = []
    for block in _blocks(body):
        if block["type"] == "thinking":
            out += [block["thinking"], block["signature"]]
        elif block["type"] == "redacted_thinking":
            out.append(block["data"])
    return out


ANTHROPIC_VIEW = BodyView(
    calls=lambda b: [x["id"] for x in _blocks(b) if x["type"] == "tool_use"],
    results=lambda b: [x["tool_use_id"] for x in _blocks(b) if x["type"] == "tool_result"],
    thinking=_anthropic_thinking,
    images=lambda b: [base64.b64decode(x["source"]["data"]) for x in _blocks(b) if x["type"] == "image"],
    errors=lambda b: [x["is_error"] for x in _blocks(b) if x["type"] == "tool_result"],
)


def _google_parts(body: JsonDict) -> list[JsonDict]:
    return [p for c in body["contents"] for p in c["parts"]]


def _google_thinking(body: JsonDict) -> list[str]:
    out: list[str] = []
    for part in _google_parts(body):
        if part.get("thought"):
            out.append(part["text"])
        if part.get("thoughtSignature"):
            out.append(part["thoughtSignature"])
    return out


GOOGLE_VIEW = BodyView(
    calls=lambda b: [p["functionCall"].get("id") for p in _google_parts(b) if "functionCall" in p],
    results=lambda b: [p["functionResponse"].get("id") for p in _google_parts(b) if "functionResponse" in p],
    thinking=_google_thinking,
    images=lambda b: [base64.urlsafe_b64decode(p["inlineData"]["data"]) for p in _google_parts(b) if "inlineData" in p],
    errors=lambda b: [
        "error" in p["functionResponse"]["response"] for p in _google_parts(b) if "functionResponse" in p
    ],
)


def _bedrock_thinking(body: JsonDict) -> list[str]:
    out: list[str] = []
    for block in _blocks(body):
        reasoning = block.get("reasoningContent")
        if reasoning is None:
            continue
        if "reasoningText" in reasoning:
            out += [reasoning["reasoningText"]["text"], reasoning["reasoningText"].get("signature", "")]
        if "redactedContent" in reasoning:
            out.append(reasoning["redactedContent"])
    return out


BEDROCK_VIEW = BodyView(
    calls=lambda b: [x["toolUse"]["toolUseId"] for x in _blocks(b) if "toolUse" in x],
    results=lambda b: [x["toolResult"]["toolUseId"] for x in _blocks(b) if "toolResult" in x],
    thinking=_bedrock_thinking,
    images=lambda b: [base64.b64decode(x["image"]["source"]["bytes"]) for x in _blocks(b) if "image" in x],
    errors=lambda b: [x["toolResult"]["status"] == "error" for x in _blocks(b) if "toolResult" in x],
)

OLLAMA_VIEW = BodyView(
    calls=lambda b: [None for m in b["messages"] for _ in m.get("tool_calls") or ()],
    results=lambda b: [m["tool_name"] for m in b["messages"] if m["role"] == "tool"],
    thinking=lambda b: [m["thinking"] for m in b["messages"] if m.get("thinking")],
    images=lambda b: [base64.b64decode(i) for m in b["messages"] for i in m.get("images") or ()],
    errors=_text_errors,
)
