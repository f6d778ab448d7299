"""Prompt building and tool-call parsing for local models (pure functions, no llama.cpp).

Small local models call tools in their own words. Podium parses the model's *text*:

1. the template's native format: ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` (Qwen,
   Hermes and other templates that render ``tools``), one block per call;
2. as a fallback, a JSON object with ``name`` and ``arguments`` (or ``parameters``), fenced in
   ```` ```json ```` or bare, whose ``name`` is one of the offered tools.

A block that is clearly a call but whose JSON does not parse becomes a :class:`ToolCall` with
``raw_args``, which the loop sends back as an error so the model can retry.

Templates that do not know about tools (SmolLM2's plain ChatML) get the tool list and the expected
format in the system prompt, and past calls and results are written as text they can read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from podium.messages import File
from podium.messages import Image
from podium.messages import Message
from podium.messages import Text
from podium.messages import ToolCall
from podium.messages import ToolResult
from podium.settings import ToolDefinition

__all__ = ["TOOL_INSTRUCTIONS", "parse_tool_calls", "template_knows_tools", "to_chat_messages"]

_TAG = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_FENCE = re.compile(r"```(?:json|tool_call|tool)?\s*(\{.*?\})\s*```", re.DOTALL)

TOOL_INSTRUCTIONS = """You can call these tools:
{tools}

To call a tool, reply with only a JSON object naming the tool and its arguments, as in the examples.
After a tool result arrives, answer the user in plain text. Do not call a tool whose result you already have."""


def template_knows_tools(template: str) -> bool:
    """Whether a chat template renders a ``tools`` list itself."""
    return "tools" in template and ("tool_call" in template or "tool_calls" in template)


def _tool_lines(tools: Sequence[ToolDefinition]) -> str:
    lines = []
    for t in tools:
        props = t.parameters.get("properties", {})
        params = ", ".join(f"{name}: {spec.get('type', 'any')}" for name, spec in props.items())
        lines.append(f"- {t.name}({params}): {t.description}")
    return "\n".join(lines)


def _call_text(call: ToolCall) -> str:
    return "```json\n" + json.dumps({"name": call.name, "arguments": call.args}, ensure_ascii=False) + "\n```"


def _content_text(parts: Sequence[Any]) -> str:
    chunks: list[str] = []
    for p in parts:
        if isinstance(p, Text):
            chunks.append(p.text)
        elif isinstance(p, (Image, File)):
            chunks.append(f"[{p.type} omitted: this local model reads text only]")
    return "".join(chunks)


def to_chat_messages(
    messages: Sequence[Message], tools: Sequence[ToolDefinition], native_tools: bool
) -> list[dict[str, Any]]:
    """Universal messages as the ``messages`` list a Jinja chat template expects."""
    out: list[dict[str, Any]] = []
    instructions = TOOL_INSTRUCTIONS.format(tools=_tool_lines(tools)) if tools and not native_tools else ""
    for m in messages:
        if m.role == "system":
            out.append({"role": "system", "content": m.text})
        elif m.role == "user":
            out.append({"role": "user", "content": _content_text(m.parts)})
        elif m.role == "assistant":
            text = "".join(p.text for p in m.parts if isinstance(p, Text))
            calls = m.tool_calls
            if native_tools and calls:
                out.append(
                    {
                        "role": "assistant",
                        "content": text,
                        "tool_calls": [
                            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.args}}
                            for c in calls
                        ],
                    }
                )
            else:
                body = "\n".join([text, *(_call_text(c) for c in calls)]).strip()
                out.append({"role": "assistant", "content": body})
            # reasoning (Thinking parts) from earlier turns is not sent back to local models
        else:  # tool results
            for r in m.parts:
                if not isinstance(r, ToolResult):
                    continue
                content = _content_text(r.content)
                if native_tools:
                    out.append({"role": "tool", "content": content, "tool_call_id": r.call_id, "name": r.name})
                else:
                    status = "error" if r.is_error else "result"
                    out.append({"role": "user", "content": f"Tool {r.name} {status}:\n{content}"})
    if instructions:
        if out and out[0]["role"] == "system":
            out[0] = {"role": "system", "content": f"{out[0]['content']}\n\n{instructions}"}
        else:
            out.insert(0, {"role": "system", "content": instructions})
        out[1:1] = _examples(tools)
    return _merge_same_role(out) if not native_tools else out


_EXAMPLE_STRINGS = {
    "path": "notes.txt",
    "file": "notes.txt",
    "filename": "notes.txt",
    "content": "some text",
    "text": "some text",
    "city": "Rome",
    "query": "python tutorial",
    "pattern": "TODO",
    "command": "ls",
    "code": "print(2 + 2)",
    "url": "https://example.org",
    "to": "EUR",
}


def _example_value(name: str, spec: Mapping[str, Any], n: int) -> Any:
    kind = spec.get("type")
    if spec.get("enum"):
        return spec["enum"][0]
    if kind in ("number", "integer"):
        return n + 2
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    return _EXAMPLE_STRINGS.get(name.lower(), f"my {name.replace('_', ' ')}")


def _examples(tools: Sequence[ToolDefinition], limit: int = 5) -> list[dict[str, Any]]:
    """A short example exchange per tool: tiny models copy a format they have seen far better than one described."""
    turns: list[dict[str, Any]] = []
    for t in list(tools)[:limit]:
        props: Mapping[str, Any] = t.parameters.get("properties", {})
        args = {name: _example_value(name, spec, i) for i, (name, spec) in enumerate(props.items())}
        shown = ", ".join(f"{k}={v}" for k, v in args.items())
        request = f"(example) {t.description.rstrip('.') or t.name}: {shown}" if shown else f"(example) {t.description}"
        turns.append({"role": "user", "content": request})
        turns.append({"role": "assistant", "content": json.dumps({"name": t.name, "arguments": args})})
    return turns


def _merge_same_role(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Join consecutive user messages (several tool results) for templates that expect alternation."""
    merged: list[dict[str, Any]] = []
    for m in messages:
        if merged and merged[-1]["role"] == m["role"] == "user":
            merged[-1] = {"role": "user", "content": merged[-1]["content"] + "\n\n" + m["content"]}
        else:
            merged.append(m)
    return merged


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def resolve_name(name: str, args: Mapping[str, Any] | None, tools: Mapping[str, frozenset[str]]) -> str:
    """Map a name a small model invented to the offered tool it clearly means, else keep it.

    ``weather`` -> ``get_weather`` and ``add_3`` -> ``add`` when exactly one tool fits (by name containment,
    then by argument names); otherwise the name is kept and the loop answers "unknown tool" so the
    model can retry.
    """
    if name in tools:
        return name
    key = _norm(name)
    exact = [t for t in tools if _norm(t) == key]
    if len(exact) == 1:
        return exact[0]
    contained = [t for t in tools if key and (_norm(t) in key or key in _norm(t))]
    if len(contained) == 1:
        return contained[0]
    if args:
        keys = set(args)
        by_args = [t for t, params in tools.items() if params and keys <= params]
        candidates = [t for t in by_args if t in contained] or (by_args if not contained else [])
        if len(candidates) == 1:
            return candidates[0]
    return name


def _as_call(obj: Any, tools: Mapping[str, frozenset[str]]) -> tuple[str, dict[str, Any] | None, str | None] | None:
    """A call from a parsed JSON value shaped like one (``name`` plus ``arguments``/``parameters``)."""
    if not isinstance(obj, Mapping):
        return None
    name = obj.get("name") or obj.get("tool") or obj.get("function")
    if isinstance(name, Mapping):  # {"function": {"name": ..., "arguments": ...}}
        return _as_call(name, tools)
    if not isinstance(name, str):
        return None
    keys = set(obj)
    if name not in tools and not keys & {"arguments", "parameters", "args"}:
        return None  # some other JSON that happens to have a "name"
    args: Any = obj.get("arguments", obj.get("parameters", obj.get("args", {})))
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except ValueError:
            return resolve_name(name, None, tools), None, args
    if not isinstance(args, Mapping):
        return resolve_name(name, None, tools), None, json.dumps(args)
    return resolve_name(name, args, tools), dict(args), None


def parse_tool_calls(
    text: str, tools: Sequence[ToolDefinition]
) -> tuple[str, list[tuple[str, dict[str, Any] | None, str | None]]]:
    """Split model output into the text to keep and the calls found: ``(name, args, raw_args_if_bad)``.

    JSON shaped like a call (``name`` and ``arguments``) counts even with an unknown name (the loop
    then tells the model which tools exist); other JSON is left as text.
    """
    names: dict[str, frozenset[str]] = {t.name: frozenset(t.parameters.get("properties", {})) for t in tools}
    if not names:
        return text, []
    calls: list[tuple[str, dict[str, Any] | None, str | None]] = []
    if "<tool_call>" in text:
        for match in _TAG.finditer(text):
            body = match.group(1).strip()
            try:
                parsed = json.loads(body)
                if isinstance(parsed, list):  # SmolLM2/APIGen style: a list of calls in one block
                    calls.extend(c for c in (_as_call(item, names) for item in parsed) if c is not None)
                    continue
                found = _as_call(parsed, names)
            except ValueError:
                name_match = re.search(r'"name"\s*:\s*"([^"]+)"', body)
                name = resolve_name(name_match.group(1), None, names) if name_match else None
                found = (name, None, body) if name else None
                if found is None and len(names) == 1:
                    found = (next(iter(names)), None, body)
            if found is not None:
                calls.append(found)
        if calls:
            return _TAG.sub("", text).strip(), calls
    for match in _FENCE.finditer(text):
        try:
            found = _as_call(json.loads(match.group(1)), names)
        except ValueError:
            continue
        if found is not None:
            calls.append(found)
    if calls:
        return _FENCE.sub(lambda m: "" if _is_call_json(m.group(1), names) else m.group(0), text).strip(), calls
    stripped = text.strip()
    start = stripped.find("{")
    if start != -1:
        end = stripped.rfind("}")
        if end > start:
            try:
                found = _as_call(json.loads(stripped[start : end + 1]), names)
            except ValueError:
                found = None
            if found is not None:
                rest = (stripped[:start] + stripped[end + 1 :]).strip()
                return rest, [found]
    return text, []


def _is_call_json(body: str, names: Mapping[str, frozenset[str]]) -> bool:
    try:
        return _as_call(json.loads(body), names) is not None
    except ValueError:
        return False
