"""Pure translation between Podium's universal messages and the Bedrock Converse API.

Shared by ``converse`` and ``converse-stream``: a whole Converse response is fed to the same
:class:`ConverseAccumulator` as the stream events, block by block, so both give the same
:class:`~podium.messages.ModelResponse`. :func:`build_request` gives the request with media as raw
``bytes`` (the Converse shapes); :func:`wire_json` turns them into the base64 strings the JSON wire carries.

Mapping, universal -> Converse:

* ``system`` messages -> ``system`` blocks; ``user`` and ``tool`` -> ``user`` messages, ``assistant``
  -> ``assistant`` (consecutive messages of the same role are merged; Converse wants alternation).
* :class:`Text` -> ``text``; :class:`Image` bytes -> ``image`` (``s3://`` URLs -> ``s3Location``);
  :class:`File` bytes -> ``document`` (PDF, CSV, DOC(X), XLS(X), HTML, TXT, MD) or ``video``.
  Converse cannot fetch http(s) URLs: such parts raise :class:`~podium.exceptions.UserError`.
* :class:`CachePoint` -> a ``cachePoint`` block after the block before it (in ``system`` too);
  ``extra={"bedrock": {"cache_tools": True}}`` puts one after the tool definitions.
* :class:`ToolCall` -> ``toolUse``; :class:`ToolResult` -> ``toolResult`` with ``status``
  ``success``/``error``. Ids outside ``[a-zA-Z0-9_-]{1,64}`` are mapped deterministically.
* :class:`Thinking` from Bedrock with a signature -> ``reasoningContent.reasoningText`` (text and
  signature verbatim); redacted thinking -> ``reasoningContent.redactedContent`` (the bytes again).
  Unsigned reasoning (DeepSeek R1 and other open models, which reject ``reasoningContent`` in
  history) is sent back as text: ``<think>``, a newline, the reasoning, a newline, ``</think>``.
* :class:`ProviderPart` from Bedrock is sent back verbatim.

Converse -> universal: ``text``, ``toolUse``, ``reasoningContent`` (``redactedContent`` kept
base64-encoded in ``Thinking.encrypted``, with ``redaction="provider"``; streamed in several deltas, the
pieces are joined); any other block becomes a :class:`ProviderPart` (bytes in
it base64-encoded). ``stopReason``, ``metrics``, ``additionalModelResponseFields``, ``trace`` and the
raw ``usage`` land in the response's ``provider_details``.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import cast

from podium.exceptions import InvalidResponseError
from podium.exceptions import UserError
from podium.messages import CachePoint
from podium.messages import File
from podium.messages import FinishReason
from podium.messages import Image
from podium.messages import JsonDict
from podium.messages import Message
from podium.messages import ModelResponse
from podium.messages import ProviderPart
from podium.messages import Text
from podium.messages import Thinking
from podium.messages import ToolCall
from podium.messages import ToolResult
from podium.providers.conversion import append_turn
from podium.providers.conversion import map_tool_call_id
from podium.providers.conversion import prepare_parts
from podium.providers.conversion import sampling
from podium.providers.jsonbody import deep_merge
from podium.settings import ModelSettings
from podium.settings import OutputSchema
from podium.settings import ToolDefinition
from podium.streaming import ResponseBuilder
from podium.streaming import StreamDelta
from podium.usage import CostValue
from podium.usage import Usage

__all__ = [
    "FAMILY",
    "ConverseAccumulator",
    "build_request",
    "finish_reason_of",
    "thinking_fields",
    "usage_of",
    "wire_json",
]

FAMILY = ("bedrock",)
"""Providers whose reasoning signatures Bedrock accepts back."""

_ID_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"
_CACHE_POINT: JsonDict = {"cachePoint": {"type": "default"}}

_FINISH: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
    "malformed_model_output": "error",
    "malformed_tool_use": "error",
}

_IMAGE_FORMATS = {
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
}
_DOCUMENT_FORMATS = {
    "application/pdf": "pdf",
    "text/csv": "csv",
    "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "text/html": "html",
    "text/plain": "txt",
    "text/markdown": "md",
}
_VIDEO_FORMATS = {
    "video/x-matroska": "mkv",
    "video/quicktime": "mov",
    "video/mp4": "mp4",
    "video/webm": "webm",
    "video/x-flv": "flv",
    "video/mpeg": "mpeg",
    "video/x-ms-wmv": "wmv",
    "video/3gpp": "three_gp",
}

# Effort levels -> Anthropic thinking budgets.
_BUDGETS = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576}


# --------------------------------------------------------------------------- request


def _source(part: Image | File, kind: str) -> JsonDict:
    if part.data is not None:
        return {"bytes": part.data}
    assert part.url is not None
    if part.url.startswith("s3://"):
        return {"s3Location": {"uri": part.url}}
    raise UserError(
        f"Bedrock cannot fetch {kind} URLs ({part.url}); pass the bytes (data=..., media_type=...) or an s3:// URI"
    )


def _format(table: Mapping[str, str], media_type: str | None, url: str | None, kind: str) -> str:
    if media_type:
        fmt = table.get(media_type.split(";", 1)[0].strip().lower())
        if fmt:
            return fmt
    elif url:
        ext = url.rsplit(".", 1)[-1].lower()
        if ext in table.values():
            return ext
        if ext == "jpg":
            return "jpeg"
    raise UserError(f"Bedrock takes no {kind} of type {media_type or url!r}; supported: {sorted(table)}")


class _Names:
    """Document names: unique per request, in the characters Converse allows."""

    def __init__(self) -> None:
        self.count = 0

    def next(self, filename: str | None) -> str:
        self.count += 1
        if filename:
            stem = filename.rsplit(".", 1)[0]
            clean = re.sub(r"\s+", " ", re.sub(r"[^a-zA-Z0-9\s\-()\[\]]", "-", stem)).strip()
            if clean:
                return clean[:200]
        return f"Document {self.count}"


def _media(part: Image | File, names: _Names) -> JsonDict:
    if isinstance(part, Image):
        return {
            "image": {
                "format": _format(_IMAGE_FORMATS, part.media_type, part.url, "image"),
                "source": _source(part, "image"),
            }
        }
    media = (part.media_type or "").lower()
    if media.startswith("video/"):
        return {
            "video": {
                "format": _format(_VIDEO_FORMATS, part.media_type, part.url, "video"),
                "source": _source(part, "video"),
            }
        }
    if media.startswith("image/"):
        return _media(Image(part.data, part.url, part.media_type), names)
    fmt = _format(_DOCUMENT_FORMATS, part.media_type, part.url, "document")
    return {"document": {"name": names.next(part.filename), "format": fmt, "source": _source(part, "document")}}


def _tool_result(part: ToolResult, names: _Names) -> JsonDict:
    content: list[JsonDict] = []
    for item in part.content:
        if isinstance(item, Text):
            content.append({"text": item.text})
        else:
            content.append(_media(item, names))
    if not content:
        content.append({"text": ""})
    return {
        "toolResult": {
            "toolUseId": map_tool_call_id(part.call_id, pattern=_ID_PATTERN),
            "content": content,
            "status": "error" if part.is_error else "success",
        }
    }


def _thinking(part: Thinking) -> JsonDict | None:
    if part.encrypted is not None and not part.text:
        return {"reasoningContent": {"redactedContent": base64.b64decode(part.encrypted)}}
    if part.signature:
        return {"reasoningContent": {"reasoningText": {"text": part.text, "signature": part.signature}}}
    if part.text:
        return {"text": f"<think>\n{part.text}\n</think>"}
    return None


def _blocks(message: Message, provider: str, settings: ModelSettings, names: _Names) -> list[JsonDict]:
    blocks: list[JsonDict] = []
    for part in prepare_parts(message, provider, family=FAMILY, foreign_thinking=settings.foreign_thinking):
        if isinstance(part, Text):
            if part.text:
                blocks.append({"text": part.text})
        elif isinstance(part, (Image, File)):
            blocks.append(_media(part, names))
        elif isinstance(part, CachePoint):
            blocks.append(dict(_CACHE_POINT))
        elif isinstance(part, ToolCall):
            call_id = map_tool_call_id(part.id, pattern=_ID_PATTERN)
            blocks.append({"toolUse": {"toolUseId": call_id, "name": part.name, "input": part.args}})
        elif isinstance(part, ToolResult):
            blocks.append(_tool_result(part, names))
        elif isinstance(part, Thinking):
            block = _thinking(part)
            if block is not None:
                blocks.append(block)
        elif isinstance(part, ProviderPart):
            blocks.append(dict(part.data))
    return blocks


def _system(messages: Sequence[Message]) -> list[JsonDict]:
    system: list[JsonDict] = []
    for message in messages:
        if message.role != "system":
            continue
        for part in message.parts:
            if isinstance(part, Text) and part.text:
                system.append({"text": part.text})
            elif isinstance(part, CachePoint):
                system.append(dict(_CACHE_POINT))
    return system


def thinking_fields(model_id: str, thinking: bool | str | int) -> JsonDict:
    """``additionalModelRequestFields`` for the portable ``thinking`` setting.

    Anthropic models: ``{"thinking": {"type": "enabled", "budget_tokens": N}}`` (``True`` = 2048,
    effort levels 1024 / 2048 / 8192 / 24576). Amazon Nova 2: ``reasoningConfig`` with an effort.
    OpenAI gpt-oss: ``reasoning_effort``. Other models reason (or not) on their own; nothing is sent.
    """
    lower = model_id.lower()
    if "anthropic" in lower or "claude" in lower:
        if thinking is False:
            return {"thinking": {"type": "disabled"}}
        if isinstance(thinking, bool):
            budget = _BUDGETS["low"]
        elif isinstance(thinking, int):
            budget = thinking
        else:
            budget = _effort_table(thinking, _BUDGETS)
        return {"thinking": {"type": "enabled", "budget_tokens": budget}}
    effort = "medium" if thinking is True or isinstance(thinking, int) else thinking
    if "nova-2" in lower:
        if thinking is False:
            return {"reasoningConfig": {"type": "disabled"}}
        level = "low" if effort == "minimal" else effort
        _effort_table(str(level), _BUDGETS)
        return {"reasoningConfig": {"type": "enabled", "maxReasoningEffort": level}}
    if "gpt-oss" in lower and thinking is not False:
        level = "low" if effort == "minimal" else effort
        _effort_table(str(level), _BUDGETS)
        return {"reasoning_effort": level}
    return {}


def _effort_table(level: str, table: Mapping[str, int]) -> int:
    if level not in table:
        raise UserError(f"thinking={level!r}: use True/False, 'minimal', 'low', 'medium', 'high' or a token budget")
    return table[level]


def build_request(
    messages: Sequence[Message],
    *,
    provider: str,
    model_id: str,
    tools: Sequence[ToolDefinition] | None,
    settings: ModelSettings,
    output: OutputSchema | None,
) -> JsonDict:
    """The ``converse``/``converse_stream`` keyword arguments (without ``modelId``).

    ``settings.extra[provider]`` is deep-merged last; its ``cache_tools`` key is Podium's own
    (``True`` puts a ``cachePoint`` after the tool definitions) and is not sent.
    """
    names = _Names()
    wire: list[JsonDict] = []
    for message in messages:
        if message.role == "system":
            continue
        append_turn(wire, message, _blocks(message, provider, settings, names))
    body: JsonDict = {"messages": wire}
    system = _system(messages)
    if system:
        body["system"] = system
    inference = sampling(settings, max_tokens="maxTokens", temperature="temperature", top_p="topP")
    if settings.stop:
        inference["stopSequences"] = list(settings.stop)
    if inference:
        body["inferenceConfig"] = inference
    extra = dict(settings.for_provider(provider))
    cache_tools = bool(extra.pop("cache_tools", False))
    if tools:
        specs: list[JsonDict] = []
        for tool in tools:
            spec: JsonDict = {"name": tool.name, "inputSchema": {"json": dict(tool.parameters)}}
            if tool.description:
                spec["description"] = tool.description
            specs.append({"toolSpec": spec})
        if cache_tools:
            specs.append(dict(_CACHE_POINT))
        tool_config: JsonDict = {"tools": specs}
        choice = settings.tool_choice
        if choice == "auto":
            tool_config["toolChoice"] = {"auto": {}}
        elif choice == "required":
            tool_config["toolChoice"] = {"any": {}}
        elif choice not in (None, "none"):
            if choice not in {t.name for t in tools}:
                raise UserError(f"tool_choice={choice!r} names no offered tool; offered: {[t.name for t in tools]}")
            tool_config["toolChoice"] = {"tool": {"name": choice}}
        body["toolConfig"] = tool_config
    elif settings.tool_choice not in (None, "auto", "none"):
        raise UserError(f"tool_choice={settings.tool_choice!r} needs tools; this request offers none")
    if settings.thinking is not None:
        fields = thinking_fields(model_id, settings.thinking)
        if fields:
            body["additionalModelRequestFields"] = fields
    if output is not None:
        json_schema: JsonDict = {"name": output.name, "schema": json.dumps(dict(output.schema))}
        if output.description:
            json_schema["description"] = output.description
        body["outputConfig"] = {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": json_schema}}}
    deep_merge(body, extra)
    return body


# --------------------------------------------------------------------------- response


def usage_of(raw: Mapping[str, Any] | None) -> Usage:
    """Universal usage from Converse ``usage`` (``inputTokens`` excludes cache reads and writes)."""
    if not raw:
        return Usage(requests=1)
    read = int(raw.get("cacheReadInputTokens", 0))
    write = int(raw.get("cacheWriteInputTokens", 0))
    details: dict[str, int] = {}
    for name, value in (raw.get("serverToolUsage") or {}).items():
        if isinstance(value, int):
            details[f"server_tool_{name}"] = value
    return Usage(
        input_tokens=int(raw.get("inputTokens", 0)) + read + write,
        output_tokens=int(raw.get("outputTokens", 0)),
        cache_read_tokens=read,
        cache_write_tokens=write,
        requests=1,
        details=details,
    )


def finish_reason_of(raw: str | None) -> FinishReason | None:
    """Normalized finish reason (unknown values map to ``None``; the raw one stays in provider_details)."""
    return _FINISH.get(raw) if raw else None


def wire_json(body: JsonDict) -> JsonDict:
    """``body`` as JSON can carry it: ``bytes`` (media, redacted reasoning) as standard base64 strings."""
    return cast("JsonDict", _jsonable(body))


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


class ConverseAccumulator:
    """Turns ``converse`` output blocks or ``converse_stream`` events into deltas and one response."""

    __slots__ = (
        "_builder",
        "_details",
        "_metadata",
        "_model",
        "_provider",
        "_redacted",
        "_stop",
        "_stopped",
        "_tool_extra",
        "_usage",
        "complete",
    )

    def __init__(self, provider: str, model: str) -> None:
        self.complete = False
        """Whether a stream's ``messageStop`` and then its ``metadata`` (the usage) arrived: a stream without
        them was cut off."""
        self._stopped = False
        self._metadata = False
        self._builder = ResponseBuilder()
        self._provider = provider
        self._model = model
        self._stop: str | None = None
        self._usage: Mapping[str, Any] | None = None
        self._details: JsonDict = {}
        self._tool_extra: dict[int, JsonDict] = {}
        self._redacted: dict[int, bytearray] = {}

    # -- whole responses

    def feed_response(self, response: Mapping[str, Any]) -> list[StreamDelta]:
        """Take a whole ``converse`` response."""
        deltas: list[StreamDelta] = []
        message = (response.get("output") or {}).get("message") or {}
        for index, block in enumerate(message.get("content") or ()):
            deltas.extend(self._block(index, block))
        self._stop = response.get("stopReason")
        self._usage = response.get("usage")
        for key in ("metrics", "additionalModelResponseFields", "trace", "performanceConfig", "serviceTier"):
            if key in response:
                self._details[key] = _jsonable(response[key])
        return deltas

    def _block(self, index: int, block: Mapping[str, Any]) -> list[StreamDelta]:
        b = self._builder
        if "text" in block:
            return [b.text(index, str(block["text"]))]
        if "toolUse" in block:
            use = block["toolUse"]
            extra = {k: v for k, v in use.items() if k not in ("toolUseId", "name", "input")}
            delta = b.tool_call(
                index,
                id=str(use.get("toolUseId", "")),
                name=str(use.get("name", "")),
                args_delta=json.dumps(use.get("input") or {}),
            )
            if extra:
                b.details(index, _jsonable(extra))
            return [delta]
        if "reasoningContent" in block:
            return self._reasoning(index, block["reasoningContent"], whole=True)
        b.part(index, ProviderPart(self._provider, _jsonable(dict(block))))
        return []

    def _reasoning(self, index: int, content: Mapping[str, Any], *, whole: bool) -> list[StreamDelta]:
        b = self._builder
        if "redactedContent" in content:
            # A stream may split the blob over several deltas: the block is all of them, in order. Pieces are
            # bytes (boto3's events) or base64 strings (the raw frames), each encoded on its own.
            raw = content["redactedContent"]
            try:
                piece = raw if isinstance(raw, bytes) else base64.b64decode(str(raw), validate=True)
            except ValueError as exc:
                raise InvalidResponseError(
                    f"bedrock sent redactedContent that is not base64: {str(raw)[:80]!r}",
                    body=str(raw)[:300],
                    provider=self._provider,
                    model=self._model,
                ) from exc
            blob = self._redacted.setdefault(index, bytearray())
            blob += piece
            encrypted = base64.b64encode(bytes(blob)).decode("ascii")
            b.thinking(index, encrypted=encrypted, provider=self._provider, redaction="provider")
            return []
        if whole:
            text_block = content.get("reasoningText") or {}
            text, signature = str(text_block.get("text", "")), text_block.get("signature")
        else:
            text, signature = str(content.get("text", "")), content.get("signature")
        return [b.thinking(index, text, signature, provider=self._provider)]

    # -- stream events

    def feed_event(self, event: Mapping[str, Any]) -> list[StreamDelta]:
        """Take one ``converse_stream`` event (``{"contentBlockDelta": {...}}`` and so on)."""
        if "contentBlockDelta" in event:
            data = event["contentBlockDelta"]
            index = int(data.get("contentBlockIndex", 0))
            delta = data.get("delta") or {}
            if "text" in delta:
                return [self._builder.text(index, str(delta["text"]))]
            if "toolUse" in delta:
                return [self._builder.tool_call(index, args_delta=str(delta["toolUse"].get("input", "")))]
            if "reasoningContent" in delta:
                return self._reasoning(index, delta["reasoningContent"], whole=False)
            self._builder.part(index, ProviderPart(self._provider, _jsonable(dict(delta))))
            return []
        if "contentBlockStart" in event:
            data = event["contentBlockStart"]
            index = int(data.get("contentBlockIndex", 0))
            start = data.get("start") or {}
            if "toolUse" in start:
                use = start["toolUse"]
                delta = self._builder.tool_call(index, id=use.get("toolUseId"), name=use.get("name"))
                extra = {k: v for k, v in use.items() if k not in ("toolUseId", "name")}
                if extra:
                    self._builder.details(index, _jsonable(extra))
                return [delta]
            return []
        if "messageStop" in event:
            self._stopped = True
            self.complete = self._metadata
            data = event["messageStop"]
            self._stop = data.get("stopReason")
            if data.get("additionalModelResponseFields"):
                self._details["additionalModelResponseFields"] = _jsonable(data["additionalModelResponseFields"])
            return []
        if "metadata" in event:
            self._metadata = True
            self.complete = self._stopped
            data = event["metadata"]
            self._usage = data.get("usage")
            for key in ("metrics", "trace", "performanceConfig", "serviceTier"):
                if key in data:
                    self._details[key] = _jsonable(data[key])
            return []
        return []  # messageStart, contentBlockStop

    def build(self, *, cost_of: Any = None) -> ModelResponse:
        """The final response; ``cost_of(usage, model)`` computes the cost when given."""
        usage = usage_of(self._usage)
        details = dict(self._details)
        if self._stop is not None:
            details["finish_reason"] = self._stop
        if self._usage is not None:
            details["usage"] = _jsonable(dict(self._usage))
        cost = cost_of(usage, self._model) if cost_of is not None else None
        return self._builder.build(
            model=self._model,
            provider=self._provider,
            finish_reason=finish_reason_of(self._stop),
            usage=usage,
            cost=cast("CostValue", cost),
            provider_details=details or None,
        )
